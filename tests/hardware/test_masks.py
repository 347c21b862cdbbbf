import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dynapse2.hardware import chip as C
from dynapse2.hardware.masks import bit_table, bits_mask, mask_bits, masks_of


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, (1 << n) - 1))))
def test_mask_bits_round_trip(nm):
    n, m = nm
    bits = mask_bits(m, n)
    assert len(bits) == n and all(type(b) is bool for b in bits)
    assert bits == tuple(bool(m // 2**k % 2) for k in range(n))  # bit k = floor(m / 2^k) mod 2
    assert bits_mask(bits) == m
    assert masks_of(np.array(bits)) == m


@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_bits_mask_round_trip(bits):
    m = bits_mask(bits)
    assert m == sum(2**k for k, b in enumerate(bits) if b)
    assert mask_bits(m, len(bits)) == tuple(bits)


def test_tables_of_the_chip_masks():
    # the 4-bit weight mask: mask 5 = Iw_0 + Iw_2, mask 15 = all four bases
    t = bit_table(C.N_WEIGHT_BITS)
    assert t.shape == (16, 4)
    np.testing.assert_array_equal(t[5], [1, 0, 1, 0])
    np.testing.assert_array_equal(t[15], [1, 1, 1, 1])
    for m in range(16):
        assert tuple(bool(b) for b in t[m]) == mask_bits(m, 4)
    np.testing.assert_array_equal(masks_of(t), np.arange(16))
    np.testing.assert_array_equal(
        masks_of(t.reshape(4, 4, 4).astype(bool)), np.arange(16).reshape(4, 4)
    )
    assert bits_mask([]) == 0 and mask_bits(0, 0) == ()
