"one_hot_lookup matches embedding layers forward and backward, create_params builds parameters, and bad input is named"
import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F
from collab_nbdev.embeddings import one_hot_lookup, create_params


@pytest.fixture
def weight():
    return torch.randn(944, 5, generator=torch.Generator().manual_seed(0))


def test_matches_indexing_and_embedding(weight):
    idx = torch.tensor([3, 0, 3, 943, 17])
    assert torch.equal(one_hot_lookup(idx, weight), weight[idx])
    assert torch.equal(one_hot_lookup(idx, weight), nn.Embedding.from_pretrained(weight)(idx))
    assert torch.equal(one_hot_lookup(idx.view(5, 1), weight), weight[idx.view(5, 1)])


def test_accepts_ints_lists_and_numpy(weight):
    assert torch.equal(one_hot_lookup(3, weight), weight[3])
    assert torch.equal(one_hot_lookup([3, 943], weight), weight[[3, 943]])
    assert torch.equal(one_hot_lookup(np.array([1, 2], dtype=np.int32), weight), weight[[1, 2]])


def test_gradients_match_embedding_with_repeats(weight):
    idx = torch.tensor([3, 7, 3, 3, 0])
    grad_out = torch.randn(5, 5, generator=torch.Generator().manual_seed(1))
    w_one_hot, w_emb = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    one_hot_lookup(idx, w_one_hot).backward(grad_out)
    F.embedding(idx, w_emb).backward(grad_out)
    torch.testing.assert_close(w_one_hot.grad, w_emb.grad)
    torch.testing.assert_close(w_one_hot.grad[3], grad_out[[0, 2, 3]].sum(0))  # three uses of row 3 add up
    assert w_one_hot.grad[[1, 2, 943]].abs().sum() == 0                          # unused rows get nothing


@pytest.mark.parametrize('idx, message', [
    (torch.tensor([3, 944]), 'index 944 at position 1 is out of range: a table of 944 rows takes indices 0..943'),
    (torch.tensor([[0, 1], [2, 1000]]), 'index 1000 at position (1, 1) is out of range'),
    (torch.tensor([5, -1]), 'index -1 at position 1 is negative: a table of 944 rows'),
    (-2, 'index -2 is negative'),
])
def test_bad_index_raises_index_error(weight, idx, message):
    with pytest.raises(IndexError) as e: one_hot_lookup(idx, weight)
    assert message in str(e.value)


@pytest.mark.parametrize('idx, dtype', [(torch.tensor([1., 2.]), 'torch.float32'), ([1.5], 'torch.float32'),
                                        (np.array([1.0]), 'torch.float64'), (torch.tensor([True]), 'torch.bool')])
def test_non_integer_index_raises_type_error(weight, idx, dtype):
    with pytest.raises(TypeError, match=f'indices must be integers, got {dtype}'): one_hot_lookup(idx, weight)


def test_weight_must_be_a_matrix(weight):
    with pytest.raises(ValueError, match=r'2-D .* got shape \(5,\)'): one_hot_lookup([0], weight[0])


def test_create_params():
    torch.manual_seed(0)
    p = create_params([944, 50])
    assert isinstance(p, nn.Parameter) and p.requires_grad
    assert p.shape == (944, 50)
    assert abs(p.std().item() - 0.01) < 1e-3 and abs(p.mean().item()) < 1e-3
    assert create_params((3, 2)).shape == (3, 2)
    assert create_params(7).shape == (7,)
    assert create_params(np.int64(4)).shape == (4,)


def test_create_params_registers_in_a_module():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.user_factors = create_params([10, 3])
            self.plain = torch.zeros(10, 3, requires_grad=True)
    assert [n for n, _ in Model().named_parameters()] == ['user_factors']


@pytest.mark.parametrize('size', [[944, 0], [-1, 5], 0, -5, []])
def test_create_params_non_positive_size(size):
    with pytest.raises(ValueError, match='create_params: size .* must have at least one dimension, each a positive number'):
        create_params(size)


@pytest.mark.parametrize('size', [[944, 2.5], 2.5, 'abc'])
def test_create_params_non_integer_size(size):
    with pytest.raises(TypeError, match='must be whole numbers'): create_params(size)
