"""FineGAN's official network sizes in closed form, the reference column of the model card.

FineGAN (Singh et al., CVPR 2019; ``kkanshul/finegan`` ``code/model.py``) builds its generator
``G_NET`` from an init stage per code (``INIT_STAGE_G``: FC + BatchNorm-GLU + five x2 up blocks from
4x4 to 128x128 at ngf·16 halving), two code-joining stages (``NEXT_STAGE_G``: join conv, R_NUM
ResBlocks, same-resolution conv) and 3x3 image/mask heads, and three discriminators ``D_NET(0/1/2)``
(background patch discriminator, parent and child image discriminators).

``finegan_module_params(NC, NP)`` counts the trainable parameters of each named submodule (BatchNorm
affine weights included, running statistics excluded) at FineGAN's training configuration (GF_DIM =
DF_DIM = 64, Z_DIM = 100, R_NUM = 2). ``results/studies/model_card/finegan_reference_params.json`` holds the
same counts obtained independently, by instantiating a re-creation of the official classes for CUB, Dogs and
Cars; a test checks that this arithmetic reproduces them.
"""

from __future__ import annotations

from dataclasses import dataclass

FINEGAN_SOURCE = "kkanshul/finegan@38db1dbfb7b1ed01e28f995f08932272c282f9dd code/model.py, code/cfg/train.yml"
# in the repository, not the installed package
REFERENCE_FILE = "results/studies/model_card/finegan_reference_params.json"


@dataclass(frozen=True)
class FineGANSizes:
    """FineGAN's ``cfg.GAN`` values (code/cfg/train.yml)."""

    gf_dim: int = 64
    df_dim: int = 64
    z_dim: int = 100
    r_num: int = 2


def _conv(in_channels: int, out_channels: int, kernel: int, bias: bool = False) -> int:
    return in_channels * out_channels * kernel * kernel + (out_channels if bias else 0)


def _batch_norm(channels: int) -> int:
    return 2 * channels  # affine weight and bias


def _up_block(in_channels: int, out_channels: int) -> int:
    """upBlock: upsample, conv3x3 to 2·out, BatchNorm(2·out), GLU."""
    return _conv(in_channels, 2 * out_channels, 3) + _batch_norm(2 * out_channels)


def init_stage_params(ngf: int, in_dim: int) -> int:
    """INIT_STAGE_G(ngf): Linear(in_dim, ngf·4·4·2, no bias) + BatchNorm1d + GLU, then up blocks
    ngf -> ngf/2 -> ngf/4 -> ngf/8 -> ngf/16 -> ngf/16."""
    widths = (ngf, ngf // 2, ngf // 4, ngf // 8, ngf // 16, ngf // 16)
    fc = in_dim * ngf * 4 * 4 * 2 + _batch_norm(ngf * 4 * 4 * 2)
    return fc + sum(_up_block(a, b) for a, b in zip(widths, widths[1:], strict=False))


def next_stage_params(ngf: int, code_dim: int, r_num: int) -> int:
    """NEXT_STAGE_G(ngf): jointConv (conv3x3 ngf+code -> 2·ngf, BN, GLU), r_num ResBlocks (conv3x3
    ngf -> 2·ngf, BN, GLU, conv3x3 ngf -> ngf, BN), samesample (conv3x3 ngf -> ngf, BN, GLU)."""
    joint = _conv(ngf + code_dim, 2 * ngf, 3) + _batch_norm(2 * ngf)
    res_block = _conv(ngf, 2 * ngf, 3) + _batch_norm(2 * ngf) + _conv(ngf, ngf, 3) + _batch_norm(ngf)
    same = _conv(ngf, ngf, 3) + _batch_norm(ngf)
    return joint + r_num * res_block + same


def discriminator_params(stage: int, num_classes: int, num_parents: int, sizes: FineGANSizes) -> int:
    """D_NET(stage): 0 = background (three unpadded 4x4 convs, two 4x4 heads with bias); 1 / 2 = parent /
    child (four 4x4 stride-2 convs to ndf·8, downBlock to ndf·16, two 3x3 conv-BN blocks, a 4x4 code
    head over NP / NC classes and a 4x4 real/fake head, both with bias)."""
    ndf = sizes.df_dim
    if stage == 0:
        encoder = _conv(3, ndf, 4) + _conv(ndf, 2 * ndf, 4) + _conv(2 * ndf, 4 * ndf, 4)
        return encoder + 2 * _conv(4 * ndf, 1, 4, bias=True)
    classes = num_parents if stage == 1 else num_classes
    encoder = (_conv(3, ndf, 4) + _conv(ndf, 2 * ndf, 4) + _batch_norm(2 * ndf)
               + _conv(2 * ndf, 4 * ndf, 4) + _batch_norm(4 * ndf) + _conv(4 * ndf, 8 * ndf, 4) + _batch_norm(8 * ndf))
    down = _conv(8 * ndf, 16 * ndf, 4) + _batch_norm(16 * ndf)
    back_to_8 = _conv(16 * ndf, 8 * ndf, 3) + _batch_norm(8 * ndf)
    joint = _conv(8 * ndf, 8 * ndf, 3) + _batch_norm(8 * ndf)
    heads = _conv(8 * ndf, classes, 4, bias=True) + _conv(8 * ndf, 1, 4, bias=True)
    return encoder + down + back_to_8 + joint + heads


def finegan_module_params(num_classes: int, num_parents: int, sizes: FineGANSizes | None = None) -> dict[str, int]:
    """Parameters per FineGAN submodule, named as in ``code/model.py`` (NC = FINE_GRAINED_CATEGORIES,
    NP = SUPER_CATEGORIES). The background code is tied to the child code (TIED_CODES), so h_net1_bg
    takes Z_DIM + NC inputs."""
    s = sizes or FineGANSizes()
    gf = s.gf_dim
    return {
        "h_net1_bg": init_stage_params(16 * gf, s.z_dim + num_classes),
        "img_net1_bg": _conv(gf, 3, 3),
        "h_net1": init_stage_params(16 * gf, s.z_dim + num_parents),
        "h_net2": next_stage_params(gf, num_parents, s.r_num),
        "img_net2": _conv(gf // 2, 3, 3),
        "img_net2_mask": _conv(gf // 2, 1, 3),
        "h_net3": next_stage_params(gf // 2, num_classes, s.r_num),
        "img_net3": _conv(gf // 4, 3, 3),
        "img_net3_mask": _conv(gf // 4, 1, 3),
        "D_NET(0)": discriminator_params(0, num_classes, num_parents, s),
        "D_NET(1)": discriminator_params(1, num_classes, num_parents, s),
        "D_NET(2)": discriminator_params(2, num_classes, num_parents, s),
    }
