// Package merkle is the Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0,
// the same as RFC 6962's): a SHA-256 tree over an ordered list of leaves, where a
// leaf's hash is SHA-256(0x00 || data) and a node's SHA-256(0x01 || left || right),
// the list split at the largest power of two smaller than its length. An inclusion
// proof (audit path) shows that one leaf is at its index in a tree of a given size
// with a given root, in about log2(size) hashes.
package merkle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/bits"
)

// Hash is a SHA-256 value.
type Hash = [sha256.Size]byte

// Leaf is the hash of a leaf holding data.
func Leaf(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

func node(l, r Hash) Hash {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l[:])
	h.Write(r[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// split is the largest power of two smaller than n (n ≥ 2).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// Root is the tree head of the leaf hashes (RFC 9162's MTH); the empty tree's is
// SHA-256 of nothing.
func Root(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return node(Root(leaves[:k]), Root(leaves[k:]))
}

// Proof is the inclusion proof of leaf index among leaves (RFC 9162's PATH), from
// the leaf's sibling up to the root's children.
func Proof(leaves []Hash, index int) []Hash {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if index < k {
		return append(Proof(leaves[:k], index), Root(leaves[k:]))
	}
	return append(Proof(leaves[k:], index-k), Root(leaves[:k]))
}

// ErrBadProof is a proof that does not lead from the leaf to the root.
var ErrBadProof = errors.New("merkle: the inclusion proof does not match the root")

// Verify checks that leaf is at index in the tree of size leaves whose root is
// root, by RFC 9162 §2.1.3.2's algorithm.
func Verify(leaf Hash, index, size int, path []Hash, root Hash) error {
	if index < 0 || index >= size {
		return ErrBadProof
	}
	fn, sn := uint64(index), uint64(size-1)
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return ErrBadProof
		}
		if fn&1 == 1 || fn == sn {
			r = node(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = node(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(r[:], root[:]) {
		return ErrBadProof
	}
	return nil
}
