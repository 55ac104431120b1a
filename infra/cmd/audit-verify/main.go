// Command audit-verify checks an audit log export against the node's signed digests:
//
//	go run ./infra/cmd/audit-verify -export FILE -digests FILE [-digests FILE …] -key FILE
//
// where the files are what the API gives: the export's file (NDJSON or CSV, from the
// link of GET /v1/audit-logs/exports/{id}), the body of GET /v1/audit-logs/digests
// for a span covering it (one file per page), and the body of GET
// /v1/audit-logs/public-key. It prints "ok" (and what it checked on stderr) and exits 0 when every entry is proven
// by a digest whose signature and chain hold and none is missing inside the export's
// range; otherwise it names the first line that was changed, inserted or removed and
// exits 1 (2 for a usage or file error). The algorithm: README, "Verifying the audit
// log".
package main

import (
	"flag"
	"fmt"
	"os"

	"opsconsole/shared/auditverify"
)

type files []string

func (f *files) String() string     { return fmt.Sprint(*f) }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var digests files
	export := flag.String("export", "", "the export's file (NDJSON or CSV)")
	key := flag.String("key", "", "the body of GET /v1/audit-logs/public-key (PEM)")
	flag.Var(&digests, "digests", "a body of GET /v1/audit-logs/digests (repeat for more pages)")
	flag.Parse()
	if *export == "" || *key == "" || len(digests) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*export, digests, *key))
}

func run(exportPath string, digestPaths []string, keyPath string) int {
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit-verify:", err)
		return 2
	}
	var bodies [][]byte
	for _, p := range digestPaths {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "audit-verify:", err)
			return 2
		}
		bodies = append(bodies, b)
	}
	f, err := os.Open(exportPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit-verify:", err)
		return 2
	}
	defer f.Close()
	rep, err := auditverify.Verify(f, bodies, pem)
	if err != nil {
		fmt.Println("FAILED:", err)
		return 1
	}
	fmt.Println("ok")
	fmt.Fprintln(os.Stderr, rep.Summary())
	return 0
}
