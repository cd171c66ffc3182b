import pytest
import torch

from onegan.config import OneGANConfig
from onegan.model import OneGANModel
from onegan.networks.discriminators import DiscriminatorPair
from onegan.networks.encoders import BackgroundEncoder, ShapeEncoder, StyleEncoder
from onegan.networks.generators import compose
from onegan.networks.norm import glu_norm


@pytest.mark.parametrize("preset", ["smoke", "tiny"])
def test_shapes_of_every_subnetwork(preset):
    config = OneGANConfig.preset(preset, 6, 2)
    m = config.model
    s, n = m.image_size, 3
    image = torch.rand(n, 3, s, s) * 2 - 1
    shape = ShapeEncoder(config)(image)
    assert shape.parent_logits.shape == (n, 2) and shape.mu_p.shape == shape.sigma_p.shape == (n, m.parent_code_dim)
    assert shape.mu_z.shape == shape.sigma_z.shape == (n, m.z_dim)
    assert (shape.sigma_p > 0).all() and (shape.sigma_z > 0).all()
    style = StyleEncoder(config)(image)
    assert style.child_logits.shape == (n, 6) and style.mu_c.shape == (n, m.child_code_dim)
    assert (style.sigma_c > 0).all()
    bypass_bg = BackgroundEncoder(config)(image, torch.rand(n, 1, s, s))

    model = OneGANModel(m)
    gen = model.generate(torch.tensor([0, 3, 5]), torch.tensor([0, 1, 1]), torch.randn(n, m.z_dim))
    assert gen.image.shape == gen.foreground.shape == gen.background.shape == (n, 3, s, s)
    assert gen.mask.shape == (n, 1, s, s) and 0 <= gen.mask.min() and gen.mask.max() <= 1
    assert gen.image.abs().max() <= 1
    # Bypasses match the pre-images so mixup 3/4 can mix them.
    assert gen.preimage_fg.shape == shape.bypass_fg.shape and gen.preimage_bg.shape == bypass_bg.shape

    pair = DiscriminatorPair(m)
    bg = pair.background(image)
    patches = m.background_patch_size()[1]
    assert bg.real_fake.shape == bg.background.shape == (n, 1, patches, patches)
    child = pair.child(image)
    assert child.real_fake.shape == (n,) and child.child_logits.shape == (n, 6) and child.features.dim() == 4


def test_composition_eq5():
    bg, fg = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    mask = torch.rand(2, 1, 4, 4)
    out = compose(bg, fg, mask)
    assert torch.allclose(out, bg * (1 - mask) + fg * mask)
    assert torch.equal(compose(bg, fg, torch.zeros_like(mask)), bg)
    assert torch.equal(compose(bg, fg, torch.ones_like(mask)), fg)


def _layer_norm(x):
    mean = x.mean((1, 2, 3), keepdim=True)
    var = x.var((1, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-5)


def _instance_norm(x):
    mean = x.mean((2, 3), keepdim=True)
    var = x.var((2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-5)


def test_glu_layer_norm_normalises_only_x_left():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 5, 5) * 3 + 1
    left, right = x.chunk(2, 1)
    module = glu_norm("glu-lnorm", 4)
    expected = _layer_norm(left) * torch.sigmoid(right)
    assert torch.allclose(module(x), expected, atol=1e-5)
    # Scaling/shifting x_L leaves the output unchanged (it is normalised) ...
    assert torch.allclose(module(torch.cat([left * 5 + 2, right], 1)), module(x), atol=1e-4)
    # ... but x_R is not normalised: scaling it changes the gate.
    assert not torch.allclose(module(torch.cat([left, right * 5], 1)), module(x), atol=1e-3)


def test_other_normalisation_variants():
    torch.manual_seed(1)
    x = torch.randn(2, 8, 5, 5) * 2 + 0.5
    left, right = x.chunk(2, 1)
    assert torch.allclose(glu_norm("glu-inorm", 4)(x), _instance_norm(left) * torch.sigmoid(right), atol=1e-5)
    nx = _layer_norm(x)
    assert torch.allclose(glu_norm("lnorm", 4)(x), nx[:, :4] * torch.sigmoid(nx[:, 4:]), atol=1e-5)
    ix = _instance_norm(x)
    assert torch.allclose(glu_norm("inorm", 4)(x), ix[:, :4] * torch.sigmoid(ix[:, 4:]), atol=1e-5)
    with pytest.raises(ValueError):
        glu_norm("batchnorm", 4)


def test_background_code_follows_the_parent_or_is_single():
    import dataclasses

    from core.errors import UserError

    config = OneGANConfig.preset("smoke", 6, 2)
    child = torch.arange(6)
    parent = child // 3
    paper = OneGANModel(config.model).embeddings(child, parent)
    # Eq. 1: e_bg = e_p, so v_bg differs between parents and agrees within one.
    assert torch.equal(paper.v_bg[0], paper.v_bg[2]) and not torch.equal(paper.v_bg[0], paper.v_bg[3])
    single = dataclasses.replace(config.model, background_code="single")
    model = OneGANModel(single)
    codes = model.embeddings(child, parent)
    assert model.embeddings.background.num_embeddings == 1
    assert all(torch.equal(codes.v_bg[0], v) for v in codes.v_bg)  # one background code for every class
    assert not torch.equal(codes.v_p[0], codes.v_p[3])               # the parent code is untouched
    with pytest.raises(UserError, match="background_code must be one of"):
        dataclasses.replace(config.model, background_code="child")
    legacy = config.to_dict()
    legacy["model"].pop("background_code")
    assert OneGANConfig.from_dict(legacy).model.background_code == "parent"  # configs written before it


def test_orthogonal_code_init_gives_equal_norm_orthogonal_codes():
    import dataclasses

    from core.errors import UserError

    config = OneGANConfig.preset("smoke", 12, 4).model
    torch.manual_seed(0)
    normal = OneGANModel(config)
    norms = normal.embeddings.parent.weight.norm(dim=1)
    assert norms.max() / norms.min() > 1.2  # N(0, 1) rows: some codes start louder than others
    torch.manual_seed(0)
    orthogonal = OneGANModel(dataclasses.replace(config, code_init="orthogonal"))
    for table in (orthogonal.embeddings.background, orthogonal.embeddings.parent, orthogonal.embeddings.child):
        weight = table.weight.detach()
        gram = weight @ weight.T  # rows <= width here: orthonormal, FineGAN's one-hot codes rotated
        torch.testing.assert_close(gram, torch.eye(weight.shape[0]), atol=1e-5, rtol=0)
    # more codes than width: orthogonality is impossible, equal norms are not
    narrow = OneGANModel(dataclasses.replace(config, code_init="orthogonal", code_dim=8)).embeddings.child.weight
    torch.testing.assert_close(narrow.norm(dim=1), torch.ones(12))
    # the same draws from the global generator: every network after the embeddings starts the same
    after = zip(normal.foreground_generator.parameters(), orthogonal.foreground_generator.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in after)
    with pytest.raises(UserError, match="code_init must be one of"):
        dataclasses.replace(config, code_init="uniform")
    legacy = OneGANConfig.preset("smoke", 12, 4).to_dict()
    legacy["model"].pop("code_init")
    assert OneGANConfig.from_dict(legacy).model.code_init == "normal"  # configs written before it


@pytest.mark.parametrize("codes", ["argmax", "straight-through"])
def test_reconstruction_class_codes(codes):
    """Straight-through ê: the same reconstruction forward as argmax, plus a gradient into the class
    logits (argmax gives them none)."""
    import dataclasses

    from onegan.mixup import inference_mixup_weights

    config = OneGANConfig.preset("smoke", 6, 2).model
    torch.manual_seed(0)
    reference = OneGANModel(config)
    model = OneGANModel(dataclasses.replace(config, reconstruction_class_codes=codes))
    model.load_state_dict(reference.state_dict())
    logits = {}
    model.style_encoder.register_forward_hook(lambda m, i, out: logits.update(child=out.child_logits))
    model.shape_encoder.register_forward_hook(lambda m, i, out: logits.update(parent=out.parent_logits))
    images = torch.randn(4, 3, 32, 32)
    weights = inference_mixup_weights(4, config)
    out = model.reconstruct(images, weights, sample=False)
    with torch.no_grad():
        expected = reference.reconstruct(images, weights, sample=False)
    torch.testing.assert_close(out.image, expected.image, atol=1e-5, rtol=0)
    grads = torch.autograd.grad(out.image.square().sum(), [logits["child"], logits["parent"]], allow_unused=True)
    reaches = [g is not None and g.abs().sum() > 0 for g in grads]
    assert reaches == ([True, True] if codes == "straight-through" else [False, False])


def _outline_masks(lobes: torch.Tensor, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Radial-star masks r(θ) = 1 + 0.35·cos(kθ) with k = ``lobes`` at random pose, scale and position."""
    g = torch.Generator().manual_seed(seed)
    n = len(lobes)
    scale = (0.22 + 0.1 * torch.rand(n, generator=g)) * size
    centre = size / 2 + (torch.rand(n, 2, generator=g) - 0.5) * 0.25 * size
    rot = torch.rand(n, generator=g) * 6.283
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    dx, dy = xx - centre[:, 0, None, None], yy - centre[:, 1, None, None]
    r = torch.hypot(dx, dy) / scale[:, None, None]
    theta = torch.atan2(dy, dx) + rot[:, None, None]
    return (r <= 1 + 0.35 * torch.cos(lobes[:, None, None] * theta)).float()[:, None]


def test_mask_parent_classifier_is_off_in_the_paper_and_reads_outlines():
    """Q_m: absent by default (the paper's weights, old checkpoints); switched on, it tells outlines
    apart at any pose, and CE(Q_m(I_m), φ_p) reaches the generator's mask head."""
    import dataclasses

    import torch.nn.functional as F

    from onegan import losses
    from onegan.networks.mask_classifier import MaskParentClassifier

    config = OneGANConfig.preset("smoke", 6, 2).model
    assert OneGANModel(config).mask_parent_classifier is None
    assert not any(k.startswith("mask_parent_classifier") for k in OneGANModel(config).state_dict())
    on = dataclasses.replace(config, mask_parent_classifier=True)
    model = OneGANModel(on)
    assert OneGANConfig.from_dict(dataclasses.replace(OneGANConfig.preset("smoke", 6, 2), model=on).to_dict()
                                  ).model.mask_parent_classifier

    gen = model.generate(torch.tensor([0, 4]), torch.tensor([0, 1]), torch.randn(2, on.z_dim))
    loss = losses.mask_parent_loss(model.mask_parent_classifier(gen.mask), torch.tensor([0, 1]))
    grads = torch.autograd.grad(loss, list(model.foreground_generator.to_mask.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)

    # 3 vs 5 lobes at random poses: a fresh Q_m learns them and scores held-out masks well above chance.
    torch.manual_seed(0)
    classifier = MaskParentClassifier(dataclasses.replace(config, ndf=16))
    optimizer = torch.optim.Adam(classifier.parameters(), lr=2e-3)
    labels = torch.arange(256) % 2
    train = _outline_masks(3 + 2 * labels, seed=1)
    for _ in range(150):
        optimizer.zero_grad()
        F.cross_entropy(classifier(train), labels).backward()
        optimizer.step()
    held_out = _outline_masks(3 + 2 * labels, seed=2)
    accuracy = (classifier(held_out).argmax(1) == labels).float().mean()
    assert accuracy > 0.9, float(accuracy)


def test_canonical_outline_hides_position_size_and_grey_level():
    """Q_m's input: one outline drawn at two positions and sizes, and at two grey levels, gives the
    same canonical image (up to resampling), while a different outline does not; gradients reach the mask."""
    from onegan.networks.mask_classifier import canonical_outline

    def star(lobes, scale, cx, cy, size=64):
        yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
        r = torch.hypot(xx - cx, yy - cy) / scale
        return (r <= 1 + 0.3 * torch.cos(lobes * torch.atan2(yy - cy, xx - cx))).float()[None, None]

    small, large = star(4, 8, 20, 24), star(4, 14, 34, 30)
    other = star(3, 12, 32, 32)
    grey = 0.7 * large  # above the 0.5 threshold everywhere inside: the same outline
    out = canonical_outline(torch.cat([small, large, grey, other]))
    assert (out[0] - out[1]).abs().mean() < 0.05, float((out[0] - out[1]).abs().mean())
    torch.testing.assert_close(out[1], out[2], atol=1e-5, rtol=0)
    assert (out[1] - out[3]).abs().mean() > 3 * (out[0] - out[1]).abs().mean()
    mask = large.clone().requires_grad_(True)
    (canonical_outline(mask) * torch.randn(1, 1, 64, 64)).sum().backward()
    assert mask.grad.abs().sum() > 0
