"""bf16-mixed for every catalogue network with each objective it supports: the loss the optimizer sees and
the decoded ab are float32 (colour maths, decoding and loss leave autocast); channels_last and
torch.compile are switches that leave the computed values and the checkpoint keys unchanged."""

from __future__ import annotations

import functools
import inspect

import lightning as L
import pytest
import torch

from colorlab import models
from colorlab.data import ScenesDataModule
from colorlab.module import LitColorizer
from colorlab.objectives import Classification, Regression

TINY = {"width": 4, "pretrained": False, "extractor": "mobilenetv3_small_050", "tanh": False}
CASES = [(name, kind) for name in models.__all__ for kind in ("regression", "classification")]


def tiny_net(name: str):
    cls = getattr(models, name)
    params = inspect.signature(cls).parameters
    return functools.partial(cls, **{k: v for k, v in TINY.items() if k in params})


class DtypeProbe(L.Callback):
    """The dtype of the loss the optimizer sees, and of ab decoded under bf16 autocast at validation."""

    def __init__(self) -> None:
        self.loss_dtypes: list[torch.dtype] = []
        self.ab_dtypes: list[torch.dtype] = []

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.loss_dtypes.append(loss.dtype)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        x_l = batch["lab"][:, :1] / 100
        with torch.autocast("cpu", dtype=torch.bfloat16):
            self.ab_dtypes.append(pl_module.objective.decode(pl_module(x_l), x_l.shape[-2:]).dtype)


@pytest.mark.slow
@pytest.mark.parametrize("name, kind", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_bf16_mixed_fits_every_network(name, kind, tmp_path):
    objective = Regression() if kind == "regression" else Classification()
    try:
        model = LitColorizer(tiny_net(name), objective)
    except ValueError as err:  # a net that cannot produce this objective's output says so
        assert "supports" in str(err)
        pytest.skip(str(err))
    probe = DtypeProbe()
    trainer = L.Trainer(precision="bf16-mixed", accelerator="cpu", max_steps=2, limit_val_batches=1,
                        num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[probe],
                        default_root_dir=tmp_path)  # fmt: skip
    data = ScenesDataModule(train_size=8, val_size=4, batch_size=4, image_size=32)
    trainer.fit(model, data)
    assert trainer.global_step == 2
    assert probe.loss_dtypes == [torch.float32, torch.float32]
    assert probe.ab_dtypes == [torch.float32]


@pytest.mark.slow
def test_channels_last_and_compile_switches(tmp_path, monkeypatch):
    def run(**switches) -> tuple[LitColorizer, torch.Tensor]:
        torch.manual_seed(0)
        model = LitColorizer(tiny_net("UNet"), Regression(), **switches)
        trainer = L.Trainer(accelerator="cpu", max_steps=1, limit_val_batches=0, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            default_root_dir=tmp_path)  # fmt: skip
        trainer.fit(model, ScenesDataModule(train_size=4, val_size=4, batch_size=4, image_size=32))
        with torch.no_grad():
            return model, model.eval()(torch.linspace(0, 1, 32 * 32).view(1, 1, 32, 32))

    def nhwc(model: LitColorizer) -> bool:
        conv = next(m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
        return conv.weight.is_contiguous(memory_format=torch.channels_last)

    plain, plain_out = run(channels_last=False)
    channels_last, cl_out = run()  # the default
    assert nhwc(channels_last) and not nhwc(plain)
    assert channels_last.state_dict().keys() == plain.state_dict().keys()
    torch.testing.assert_close(cl_out, plain_out, rtol=1e-4, atol=1e-5)
    # dynamo's eager backend: the same graph capture as the default, without minutes of C++ codegen on CPU
    compile_in_place = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compile_in_place(self, backend="eager"))
    compiled, compiled_out = run(compile=True, channels_last=False)
    assert compiled.net._compiled_call_impl is not None
    assert compiled.state_dict().keys() == plain.state_dict().keys()  # checkpoints of compiled runs load anywhere
    torch.testing.assert_close(compiled_out, plain_out, rtol=1e-4, atol=1e-5)
