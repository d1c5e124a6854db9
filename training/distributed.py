"""Process-group setup and model wrapping for torchrun (DDP, or FSDP for 1B and up).

Used by: `torchrun --nproc_per_node N -m training.cli train ...` (and xstage train/sft, where
one process means no wrapping at all). CPU runs use the gloo backend, CUDA runs nccl.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits: rank, world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup() -> DistEnv:
    """Join the torchrun process group if WORLD_SIZE > 1; pick this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistEnv(rank, world_size, device)


def wrap(model: torch.nn.Module, env: DistEnv, fsdp: bool) -> torch.nn.Module:
    """DDP (or FSDP2 per decoder layer) across processes; the model itself on one process."""
    if not env.distributed:
        return model
    if fsdp:
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer)
        return fully_shard(model)
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [env.device.index] if env.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def full_state_dict(model: torch.nn.Module, fsdp: bool) -> dict | None:
    """Gathered weights for saving a sharded model (collective: every rank calls); else None."""
    if not (fsdp and dist.is_initialized()):
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(model, options=options)


def all_sum(value: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum a tensor over processes (identity on one process)."""
    if env.distributed:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def barrier(env: DistEnv) -> None:
    """Wait for every process (no-op on one process)."""
    if env.distributed:
        dist.barrier()


def optimizer_state(model: torch.nn.Module, optimizer, fsdp: bool) -> dict:
    """The optimizer state to save: full (gathered) under FSDP, else the local one."""
    if not (fsdp and dist.is_initialized()):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_optimizer_state_dict(model, optimizer, options=options)


def load_optimizer_state(model: torch.nn.Module, optimizer, state: dict, fsdp: bool) -> None:
    """Restore what optimizer_state() saved (under FSDP, broadcast from rank 0 and re-shard)."""
    if not (fsdp and dist.is_initialized()):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
    set_optimizer_state_dict(model, optimizer, optim_state_dict=state, options=options)
