"Functions that `torchrun` runs in each process of tests/test_distributed.py (imported by name, so they live in a module of their own)"
import os, time
import torch
from collab_nbdev.core import *
from collab_nbdev.loaders import FastCollabDataLoaders
from collab_nbdev.learner import FastLearner
from collab_nbdev.registry import DotProductBias
from collab_nbdev.scale import distributed


def fail_on_rank(rank:int, after_init:bool=False):
    "Raise on process `rank`; the other processes wait for it inside the process group, as a training run would"
    df = pd.DataFrame({'user': [1, 2, 3, 4] * 5, 'item': list(range(20)), 'rating': [3.0] * 20})
    dls = FastCollabDataLoaders.from_df(df, bs=4, device='cpu')
    learn = FastLearner(dls, DotProductBias.from_classes(2, dls.classes))
    if not after_init and int(os.environ['RANK']) == rank: raise ValueError(f"process {rank} fails before the group is formed")
    with distributed(learn, timeout=600):
        if int(os.environ['RANK']) == rank: raise ValueError(f"process {rank} fails inside the group")
        torch.distributed.barrier()   # the others wait here for the one that failed


def sleep(seconds:float):
    "Do nothing for `seconds`"
    time.sleep(seconds)
