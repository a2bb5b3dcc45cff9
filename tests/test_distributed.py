"""trajreg.distributed: seed sharding, gather, reduced GITS cost matrix, the torchrun command.

Multi-process tests run 2 CPU processes with the gloo backend (torch.multiprocessing spawn, and
torchrun in a subprocess) and compare with one process.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from trajreg import data, distributed, evaluate, gits, schedules
from trajreg.denoisers import GaussianMixtureDenoiser
from trajreg.distributed import Context

SHAPE = (1, 4, 4)
SIGMAS = schedules.polynomial(5, 0.02, 20.0)
GRID = schedules.polynomial(9, 0.02, 20.0)
SEEDS8, SEEDS7 = list(range(100, 108)), [3, 1, 4, 15, 9, 26, 5]   # 7 seeds: uneven over 2 ranks
WARM_SEEDS = list(range(50, 57))


def mixture() -> GaussianMixtureDenoiser:
    """A fixed non-linear denoiser (two Gaussians in 16-d), the same in every process."""
    g = torch.Generator().manual_seed(0)
    means = torch.randn((2, *SHAPE), generator=g, dtype=torch.float64)
    A = torch.randn(2, 16, 16, generator=g, dtype=torch.float64)
    covs = A @ A.transpose(1, 2) / 16 + 0.1 * torch.eye(16, dtype=torch.float64)
    return GaussianMixtureDenoiser.from_covs([0.3, 0.7], means, covs)


def one_process(seeds, batch_size=2, solver="ipndm"):
    """Reference: the whole seed list in one process, as evaluate.final_samples batches it."""
    noise = data.noise(seeds, SHAPE)
    return evaluate.final_samples(mixture(), noise, SIGMAS, solver, batch_size=batch_size)


# --- seeds and shards ------------------------------------------------------------------------------


def test_parse_seeds_reads_edm_syntax():
    assert distributed.parse_seeds("0-3,7, 10-11") == [0, 1, 2, 3, 7, 10, 11]
    assert distributed.parse_seeds("5") == [5]
    assert distributed.parse_seeds(3) == [0, 1, 2]
    assert distributed.parse_seeds(range(4, 6)) == [4, 5]


@pytest.mark.parametrize("spec, message", [
    ("", "cannot read ''"), ("0-", "cannot read '0-'"), ("a-b", "cannot read 'a-b'"),
    ("-3", "cannot read '-3'"), ("5-2", "ends before it starts"), ("0-3,2", "2 appears more"),
    ("1.5", "cannot read"), (0, "seeds \\(a count\\) must be >= 1"), ([1, -1], ">= 0")])
def test_parse_seeds_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        distributed.parse_seeds(spec)


def test_parse_seeds_rejects_bool():
    with pytest.raises(TypeError, match="seeds must be"):
        distributed.parse_seeds(True)


@pytest.mark.parametrize("n, batch_size", [(1, 1), (7, 2), (8, 3), (8, 8), (50, 4)])
def test_shards_cover_each_seed_once_in_the_same_batches(n, batch_size):
    seeds = list(range(10, 10 + n))
    whole = distributed.batches(seeds, batch_size)
    assert [s for b in whole for s in b] == seeds
    for world_size in (1, 2, 3, 5):
        parts = [distributed.shard(seeds, batch_size, Context(r, world_size))
                 for r in range(world_size)]
        got = sorted(tuple(b) for p in parts for b in p)
        assert got == sorted(tuple(b) for b in whole)          # same batches, each once
        sizes = [sum(map(len, p)) for p in parts]
        assert max(sizes) - min(sizes) <= batch_size            # balanced to within a batch


def test_context_rejects_a_rank_outside_the_world():
    with pytest.raises(ValueError, match="rank must lie in 0..world_size-1 = 0..1, got 2"):
        Context(2, 2)
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        Context(0, 0)


# --- one process, and ranks simulated in one process ------------------------------------------------


def test_single_process_sample_equals_final_samples():
    part = distributed.sample(mixture(), SEEDS7, SHAPE, SIGMAS, "ipndm", batch_size=2)
    assert part.seeds == SEEDS7
    torch.testing.assert_close(part.x, one_process(SEEDS7), rtol=0, atol=1e-12)
    torch.testing.assert_close(distributed.gather(part, SEEDS7), part.x, rtol=0, atol=0)


def test_local_shards_do_not_depend_on_the_number_of_ranks():
    ref = one_process(SEEDS7)
    for world_size in (2, 3, 4):
        for r in range(world_size):
            part = distributed.sample(mixture(), SEEDS7, SHAPE, SIGMAS, "ipndm",
                                      ctx=Context(r, world_size), batch_size=2)
            idx = [SEEDS7.index(s) for s in part.seeds]
            torch.testing.assert_close(part.x, ref[idx], rtol=0, atol=1e-12)


def test_rank_sums_of_the_cost_matrix_give_the_whole_one():
    """The reduction in arithmetic: sum_r B_r c^(r) / sum_r B_r equals the cost of all samples."""
    D = mixture()
    full = gits.cost_matrix(gits.warmup(D, data.noise(WARM_SEEDS, SHAPE), GRID, batch_size=3))
    parts = [distributed.sharded_warmup(D, WARM_SEEDS, SHAPE, GRID, ctx=Context(r, 3), batch_size=3)
             for r in range(3)]
    sums = sum(torch.where(full.isfinite(), gits.cost_matrix(p.warm) * p.warm.n_samples, 0.0)
               for p in parts)
    combined = torch.where(full.isfinite(), sums / len(WARM_SEEDS), torch.inf)
    torch.testing.assert_close(combined, full, rtol=1e-12, atol=0)
    assert sorted(s for p in parts for s in p.seeds) == WARM_SEEDS


def test_single_process_cost_matrix_equals_gits(tmp_path):
    D = mixture()
    part = distributed.sharded_warmup(D, WARM_SEEDS, SHAPE, GRID, batch_size=3)
    full = gits.warmup(D, data.noise(WARM_SEEDS, SHAPE), GRID, batch_size=3)
    for metric in gits.METRICS:
        torch.testing.assert_close(distributed.cost_matrix(part, metric),
                                   gits.cost_matrix(full, metric), rtol=1e-12, atol=1e-14)
    sigmas = distributed.sharded_schedule(D, WARM_SEEDS, SHAPE, 3, grid=GRID, batch_size=3)
    torch.testing.assert_close(sigmas, gits.schedule(D, data.noise(WARM_SEEDS, SHAPE), 3, grid=GRID))


def test_collectives_without_a_process_group_say_how_to_start():
    part = distributed.sample(mixture(), SEEDS7, SHAPE, SIGMAS, "euler", ctx=Context(0, 2))
    with pytest.raises(RuntimeError, match="torchrun"):
        distributed.gather(part, SEEDS7, Context(0, 2))


def test_gather_rejects_shards_that_do_not_cover_the_seeds():
    part = distributed.sample(mixture(), SEEDS7[:3], SHAPE, SIGMAS, "euler")
    with pytest.raises(ValueError, match="cover seed 15 0 times"):
        distributed.gather(part, SEEDS7)
    with pytest.raises(ValueError, match="not in the seed list"):
        distributed.gather(part, [0, 1])


def test_write_and_load_shards(tmp_path):
    part = distributed.sample(mixture(), SEEDS7, SHAPE, SIGMAS, "euler", batch_size=3,
                              out=tmp_path, fmt="npz", keep=False)
    assert part.x.shape == (0, *SHAPE) and part.seeds == SEEDS7
    seeds, x = distributed.load_shards(tmp_path)
    assert seeds == sorted(SEEDS7)
    torch.testing.assert_close(x, distributed.sample(mixture(), sorted(SEEDS7), SHAPE, SIGMAS,
                                                     "euler", batch_size=3).x, rtol=0, atol=1e-12)
    png = distributed.write_shard(tmp_path / "png", [7, 1234], x[:2].clamp(-1, 1))
    assert [p.relative_to(tmp_path / "png").as_posix() for p in png] == [
        "000000/000007.png", "001000/001234.png"]
    from trajreg import fid

    torch.testing.assert_close(fid.read_folder(tmp_path / "png"), fid.to_uint8(x[:2]))
    with pytest.raises(ValueError, match="PNG output needs images"):
        distributed.write_shard(tmp_path, [0], torch.zeros(1, 2, 4, 4))


# --- two gloo processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, folder: str) -> None:
    """One rank: sharded sampling, gather, warm-up and reduced cost matrices; rank 0 saves them."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    ctx = distributed.setup("cpu")
    try:
        D, out = mixture(), {"ctx": (ctx.rank, ctx.world_size)}
        for name, seeds in (("x8", SEEDS8), ("x7", SEEDS7), ("x1", [42])):
            part = distributed.sample(D, seeds, SHAPE, SIGMAS, "ipndm", ctx=ctx, batch_size=2,
                                      out=Path(folder) / name, fmt="npz")
            out[name] = distributed.gather(part, seeds, ctx)
            out[name + "_local"] = len(part.seeds)
        part = distributed.sharded_warmup(D, WARM_SEEDS, SHAPE, GRID, ctx=ctx, batch_size=2)
        out["cost"] = {m: distributed.cost_matrix(part, m, ctx) for m in gits.METRICS}
        tiny = distributed.sharded_warmup(D, WARM_SEEDS[:2], SHAPE, GRID, ctx=ctx, batch_size=2)
        out["cost_idle_rank"] = distributed.cost_matrix(tiny, "l2", ctx)   # rank 1 has no sample
        out["sigmas"] = distributed.sharded_schedule(D, WARM_SEEDS, SHAPE, 3, grid=GRID, ctx=ctx,
                                                     batch_size=2)
        torch.save(out, Path(folder) / f"rank{rank}.pt")
    finally:
        distributed.teardown()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert r0["ctx"] == (0, 2) and r1["ctx"] == (1, 2)
    assert (r0["x7_local"], r1["x7_local"]) == (4, 3)                 # uneven shards
    assert (r0["x1_local"], r1["x1_local"]) == (1, 0)                 # an idle rank
    for name, seeds in (("x8", SEEDS8), ("x7", SEEDS7), ("x1", [42])):
        ref = one_process(seeds)
        torch.testing.assert_close(r0[name], ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(r1[name], r0[name], rtol=0, atol=0)
        got_seeds, got = distributed.load_shards(tmp_path / name)
        assert got_seeds == sorted(seeds)
        torch.testing.assert_close(got, ref[[seeds.index(s) for s in got_seeds]], rtol=0, atol=1e-12)
    D = mixture()
    warm = gits.warmup(D, data.noise(WARM_SEEDS, SHAPE), GRID, batch_size=2)
    for metric in gits.METRICS:
        torch.testing.assert_close(r0["cost"][metric], gits.cost_matrix(warm, metric),
                                   rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(r1["cost"][metric], r0["cost"][metric], rtol=0, atol=0)
    warm2 = gits.warmup(D, data.noise(WARM_SEEDS[:2], SHAPE), GRID)
    torch.testing.assert_close(r0["cost_idle_rank"], gits.cost_matrix(warm2, "l2"), rtol=1e-12, atol=0)
    torch.testing.assert_close(r0["sigmas"], gits.schedule(D, data.noise(WARM_SEEDS, SHAPE), 3,
                                                           grid=GRID))


# --- command line ----------------------------------------------------------------------------------


def _sample_args(out, *extra):
    return ["sample", "--model", "fmnist-edm", "--solver", "ipndm", "--nfe", "2", "--seeds", "0-2",
            "--batch", "2", "--format", "npz", "--no-progress", "--out", str(out), *extra]


@pytest.fixture
def one_thread():
    """float32 convolutions on the CPU round differently with other thread counts: match the
    one-thread torchrun workers in this process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_cli_single_process_and_torchrun_agree(tmp_path, one_thread):
    from trajreg import models

    gits_json = tmp_path / "gits.json"
    distributed.main(["gits", "--model", "fmnist-edm", "--warmup", "3", "--warmup-batch", "2",
                      "--grid", "5", "--max-steps", "2", "--no-progress", "--out", str(gits_json)])
    meta = json.loads(gits_json.read_text())
    assert sorted(meta["schedules"]) == ["1", "2"] and meta["world_size"] == 1
    distributed.main(_sample_args(tmp_path / "one", "--schedule", str(gits_json)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "trajreg.distributed"]
    proc = subprocess.run(cmd + _sample_args(tmp_path / "two", "--schedule", str(gits_json)),
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seeds1, x1 = distributed.load_shards(tmp_path / "one")
    seeds2, x2 = distributed.load_shards(tmp_path / "two")
    assert seeds1 == seeds2 == [0, 1, 2]
    torch.testing.assert_close(x2, x1, rtol=0, atol=1e-10)
    sigmas = distributed.load_schedule(gits_json, 2, "fmnist-edm")
    noise = data.noise(range(3), (1, 28, 28))
    ref = evaluate.final_samples(models.load("fmnist-edm"), noise, sigmas, "ipndm", batch_size=2)
    torch.testing.assert_close(x1, ref, rtol=0, atol=1e-10)
    run_meta = json.loads((tmp_path / "two" / "meta.json").read_text())
    assert run_meta["world_size"] == 2 and run_meta["nfe"] == 2 and run_meta["n"] == 3


@pytest.mark.parametrize("extra, message", [
    (["--schedule", "polynomial", "--seeds", "3-1"], "ends before it starts"),
    (["--schedule", "nowhere.json"], "neither one of"),
    (["--schedule", "polynomial", "--solver", "heun", "--nfe", "3"], "not reachable with heun"),
    (["--schedule", "polynomial", "--device", "tpu"], "device must be 'cpu' or 'cuda'"),
    (["--schedule", "polynomial", "--batch", "0"], "--batch must be >= 1"),
])
def test_cli_rejects_bad_input(tmp_path, capsys, extra, message):
    args = _sample_args(tmp_path)
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    with pytest.raises(SystemExit) as e:
        distributed.main(args)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_cli_rejects_cuda_without_a_gpu(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        distributed.main(_sample_args(tmp_path, "--schedule", "polynomial", "--device", "cuda"))
    assert "no CUDA GPU" in capsys.readouterr().err


def test_load_schedule_checks_model_and_steps(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"model": "m", "schedules": {"1": [80.0, 0.002]}}))
    torch.testing.assert_close(distributed.load_schedule(path, 1),
                               torch.tensor([80.0, 0.002], dtype=torch.float64))
    with pytest.raises(ValueError, match="not K = 2"):
        distributed.load_schedule(path, 2)
    with pytest.raises(ValueError, match="computed for model 'm'"):
        distributed.load_schedule(path, 1, "other")
