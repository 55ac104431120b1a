package lambdas

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTable: every folder under functions/ has its entry in the table, and its main
// starts the very builder its entry names (so the code that runs in AWS is the code
// the local runtime runs), and nothing else.
func TestTable(t *testing.T) {
	dirs, err := os.ReadDir("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, d := range dirs {
		if d.IsDir() {
			folders = append(folders, d.Name())
		}
	}
	if !slices.Equal(folders, Names()) {
		t.Fatalf("functions/ holds %v\nthe table names %v", folders, Names())
	}
	table := entries(t)
	for _, name := range folders {
		t.Run(name, func(t *testing.T) {
			want, ok := table[name]
			if !ok {
				t.Fatal("no entry in the table's source")
			}
			if got := started(t, filepath.Join("../../functions", name, "main.go")); got != want {
				t.Errorf("main starts\n  %s\nthe table builds\n  %s", got, want)
			}
		})
	}
}

// entries are the table's builder expressions as written, by name.
func entries(t *testing.T) map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "functions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if lit, ok := kv.Key.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, _ := strconv.Unquote(lit.Value)
			out[name] = text(t, fset, kv.Value)
		}
		return false
	})
	return out
}

// started is the argument of the one function.Start call that is main's only statement.
func started(t *testing.T, path string) string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "main" {
			continue
		}
		if len(fn.Body.List) != 1 {
			t.Fatalf("main has %d statements", len(fn.Body.List))
		}
		call, ok := fn.Body.List[0].(*ast.ExprStmt).X.(*ast.CallExpr)
		if !ok || text(t, fset, call.Fun) != "function.Start" || len(call.Args) != 1 {
			t.Fatal("main does not call function.Start(builder)")
		}
		return text(t, fset, call.Args[0])
	}
	t.Fatal("no main")
	return ""
}

func text(t *testing.T, fset *token.FileSet, n ast.Node) string {
	var b strings.Builder
	if err := printer.Fprint(&b, fset, n); err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
