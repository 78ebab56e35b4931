//! aelf's binary merkle tree root over transaction ids (`merkle_tree_root_of_transactions`).
//!
//! Each level pairs nodes left to right and hashes `left ‖ right`; a level with an odd number of
//! nodes repeats its last node first. A single leaf therefore gives `H(leaf ‖ leaf)`, and no
//! leaves give [`Hash::ZERO`] (the C# `BlockBody.CalculateMerkleTreeRoot` for an empty body).

use super::Hash;

pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = leaves.to_vec();
    loop {
        if level.len() % 2 == 1 {
            level.push(*level.last().expect("level is not empty"));
        }
        level = level
            .chunks_exact(2)
            .map(|pair| pair[0].concat_and_compute(&pair[1]))
            .collect();
        if level.len() == 1 {
            return level[0];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::sha256;

    fn leaves(names: &[&str]) -> Vec<Hash> {
        names.iter().map(|n| sha256(n.as_bytes())).collect()
    }

    fn pair(a: Hash, b: Hash) -> Hash {
        a.concat_and_compute(&b)
    }

    /// The same shapes the C# BinaryMerkleTree tests check.
    #[test]
    fn tree_shapes_match_the_reference() {
        let [a, e, l, f] = [0, 1, 2, 3].map(|i| leaves(&["a", "e", "l", "f"])[i]);
        assert_eq!(merkle_root(&[a]), pair(a, a));
        let root_ae = pair(a, e);
        assert_eq!(merkle_root(&[a, e]), root_ae);
        assert_eq!(merkle_root(&[a, e, l]), pair(root_ae, pair(l, l)));
        let root_aelf = pair(root_ae, pair(l, f));
        assert_eq!(merkle_root(&[a, e, l, f]), root_aelf);
        let aa = pair(a, a);
        assert_eq!(merkle_root(&[a, e, l, f, a]), pair(root_aelf, pair(aa, aa)));
        assert_eq!(merkle_root(&[]), Hash::ZERO);
    }

    #[test]
    fn single_leaf_vector_from_the_reference_tests() {
        let leaf =
            Hash::from_hex("5a7d71da020cae179a0dfe82bd3c967e1573377578f4cc87bc21f74f2556c0ef")
                .unwrap();
        let mut both = leaf.0.to_vec();
        both.extend_from_slice(&leaf.0);
        assert_eq!(merkle_root(&[leaf]), sha256(&both));
    }
}
