// Package doclint checks that every exported identifier of the repository's
// packages has a doc comment, as `go doc` shows it: those of the root
// module and of every other module under it (compat/, contrib/*/, any
// directory with a go.mod), so that a new module is checked without being
// named here. Generated files (those with a "Code generated ... DO NOT
// EDIT." line), test files and testdata are left out.
package doclint

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// packageDirs returns the repository's directories that hold Go
// packages, in every module, leaving out testdata and hidden directories.
func packageDirs(t *testing.T, root string) []string {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		if matches, _ := filepath.Glob(filepath.Join(path, "*.go")); len(matches) > 0 {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func TestExportedIdentifiersAreDocumented(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, dir := range packageDirs(t, root) {
		rel, _ := filepath.Rel(root, dir)
		fset, pkgs := parseDir(t, dir)
		for name, files := range pkgs {
			if name == "main" {
				continue
			}
			p, err := doc.NewFromFiles(fset, files, "./"+rel, doc.PreserveAST)
			if err != nil {
				t.Fatal(err)
			}
			missing = append(missing, undocumented(rel, p)...)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("undocumented exported identifier: %s", m)
	}
}

// parseDir parses the Go files of dir that are neither tests nor
// generated, with their comments, and returns them by package name.
func parseDir(t *testing.T, dir string) (*token.FileSet, map[string][]*ast.File) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	pkgs := make(map[string][]*ast.File)
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if generated.Match(src) {
			continue
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		pkgs[f.Name.Name] = append(pkgs[f.Name.Name], f)
	}
	return fset, pkgs
}

// undocumented lists the exported identifiers of p without a doc comment.
func undocumented(rel string, p *doc.Package) []string {
	var out []string
	name := func(s string) string { return rel + ": " + s }
	if strings.TrimSpace(p.Doc) == "" {
		out = append(out, name("package "+p.Name))
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			if v.Doc != "" {
				continue
			}
			// A grouped declaration is documented when each exported name
			// in it has its own comment.
			for _, spec := range v.Decl.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, id := range vs.Names {
					if id.IsExported() && vs.Doc == nil && vs.Comment == nil {
						out = append(out, name(id.Name))
					}
				}
			}
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			if f.Doc == "" && ast.IsExported(f.Name) {
				out = append(out, name(prefix+f.Name))
			}
		}
	}
	values(p.Consts)
	values(p.Vars)
	funcs("", p.Funcs)
	for _, typ := range p.Types {
		if typ.Doc == "" {
			out = append(out, name("type "+typ.Name))
		}
		out = append(out, undocumentedMembers(rel, typ)...)
		values(typ.Consts)
		values(typ.Vars)
		funcs("", typ.Funcs)
		funcs(typ.Name+".", typ.Methods)
	}
	return out
}

// undocumentedMembers lists the exported fields of a struct type and the
// exported methods of an interface type that have no comment of their own,
// neither above nor at the end of the line. A field in a group of fields
// declared on one line shares that line's comment, and a field may be
// described by the comment of a field just before it that names it ("A and
// B are ...").
func undocumentedMembers(rel string, typ *doc.Type) []string {
	var out []string
	for _, spec := range typ.Decl.Specs {
		ts, ok := spec.(*ast.TypeSpec)
		if !ok {
			continue
		}
		var fields *ast.FieldList
		switch t := ts.Type.(type) {
		case *ast.StructType:
			fields = t.Fields
		case *ast.InterfaceType:
			fields = t.Methods
		default:
			continue
		}
		var prevDoc string
		for _, f := range fields.List {
			if f.Doc != nil || f.Comment != nil {
				prevDoc = f.Doc.Text() + f.Comment.Text()
				continue
			}
			for _, id := range f.Names {
				if id.IsExported() && !regexp.MustCompile(`\b`+id.Name+`\b`).MatchString(prevDoc) {
					out = append(out, rel+": "+typ.Name+"."+id.Name)
				}
			}
		}
	}
	return out
}

func TestEveryModuleOfTheRepositoryIsChecked(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dirs := packageDirs(t, root)
	var modules []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			modules = append(modules, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) < 2 {
		t.Fatalf("found the modules %v; the root and compat/ at least were expected", modules)
	}
	for _, mod := range modules {
		checked := false
		for _, dir := range dirs {
			if dir == mod || strings.HasPrefix(dir, mod+string(filepath.Separator)) {
				checked = true
				break
			}
		}
		if !checked {
			t.Errorf("no package of the module in %s is checked", mod)
		}
	}
}
