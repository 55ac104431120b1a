package merkle

import (
	"encoding/hex"
	"strconv"
	"testing"
)

// RFC 6962's reference test vectors (certificate-transparency-go, merkle_test.go):
// the roots of the first 1…8 leaves of the list below.
var (
	vectorLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	vectorRoots  = []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
)

func leaves(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		b, _ := hex.DecodeString(vectorLeaves[i])
		out[i] = Leaf(b)
	}
	return out
}

func TestRootVectors(t *testing.T) {
	for n := 1; n <= 8; n++ {
		r := Root(leaves(n))
		if got := hex.EncodeToString(r[:]); got != vectorRoots[n-1] {
			t.Errorf("root of %d leaves = %s, want %s", n, got, vectorRoots[n-1])
		}
	}
}

func TestProofs(t *testing.T) {
	for n := 1; n <= 40; n++ {
		ls := make([]Hash, n)
		for i := range ls {
			ls[i] = Leaf([]byte(strconv.Itoa(i)))
		}
		root := Root(ls)
		for i := range ls {
			p := Proof(ls, i)
			if err := Verify(ls[i], i, n, p, root); err != nil {
				t.Fatalf("size %d index %d: %v", n, i, err)
			}
			if n > 1 {
				if Verify(ls[(i+1)%n], i, n, p, root) == nil {
					t.Fatalf("size %d index %d: another leaf verified", n, i)
				}
				if Verify(ls[i], (i+1)%n, n, p, root) == nil && Proof(ls, (i+1)%n) == nil {
					t.Fatalf("size %d index %d: another index verified", n, i)
				}
				if Verify(ls[i], i, n, p[:len(p)-1], root) == nil {
					t.Fatalf("size %d index %d: a short path verified", n, i)
				}
			}
		}
	}
	if Verify(Leaf(nil), 0, 0, nil, Root(nil)) == nil {
		t.Fatal("index 0 of an empty tree verified")
	}
}
