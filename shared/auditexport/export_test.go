package auditexport

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"opsconsole/shared/audit"
	"opsconsole/shared/problem"
)

func TestCSVRow(t *testing.T) {
	cases := []struct {
		name string
		e    audit.Entry
		want []string
	}{
		{"plain", audit.Entry{ID: "1", At: "2026-01-01T00:00:00.000Z", Actor: audit.Actor{UserID: "u", Email: "u@x", Role: "partner_admin"},
			Action: "company.created", Target: audit.Target{Type: "company", ID: "cmp_1", Name: "Acme"}, RequestID: "r", SourceIP: "192.0.2.1", UserAgent: "ua"},
			[]string{"1", "2026-01-01T00:00:00.000Z", "u", "u@x", "partner_admin", "", "company.created", "company", "cmp_1", "Acme", "[]", "r", "192.0.2.1", "ua", "", "", "", ""}},
		{"impersonated, with changes", audit.Entry{ID: "2", Actor: audit.Actor{UserID: "u", Impersonator: &audit.Impersonator{UserID: "real"}},
			Changes: []audit.FieldChange{{Field: "name", Before: "a", After: nil}}},
			[]string{"2", "", "u", "", "", "real", "", "", "", "", `[{"field":"name","before":"a","after":null}]`, "", "", "", "", "", "", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CSVRow(c.e)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
			if len(got) != len(CSVColumns) {
				t.Errorf("%d fields for %d columns", len(got), len(CSVColumns))
			}
		})
	}
	t.Run("commas, quotes and newlines survive the file", func(t *testing.T) {
		e := audit.Entry{ID: "3", Target: audit.Target{Name: "a, \"b\"\nc"}}
		var b bytes.Buffer
		enc, _ := newEncoder(FormatCSV, &b)
		if err := enc.write(e, nil); err != nil {
			t.Fatal(err)
		}
		if err := enc.flush(); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil || len(rows) != 2 || rows[1][9] != e.Target.Name {
			t.Fatalf("%q %v", rows, err)
		}
	})
}

func TestBodyParse(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		name   string
		b      body
		fields []string
	}{
		{"format only", body{Format: s("csv")}, nil},
		{"all filters", body{Format: s("ndjson"), NodeID: s("platform"), From: s("2026-01-01T00:00:00Z"), To: s("2026-01-02T00:00:00Z"),
			Action: s("organization."), TargetType: s("organization"), ActorID: s("u-1"), TargetID: s("org_1")}, nil},
		{"no format", body{}, []string{"format"}},
		{"unknown format", body{Format: s("xml")}, []string{"format"}},
		{"from after to", body{Format: s("csv"), From: s("2026-01-02T00:00:00Z"), To: s("2026-01-01T00:00:00Z")}, []string{"from"}},
		{"bad node and action", body{Format: s("csv"), NodeID: s("x"), Action: s("A")}, []string{"action", "nodeId"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := c.b.parse()
			var p *problem.Problem
			if c.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &p) {
				t.Fatalf("err %v", err)
			}
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.fields) {
				t.Errorf("fields %v, want %v", got, c.fields)
			}
		})
	}
}

// fakeS3 keeps objects and multipart uploads in memory.
type fakeS3 struct {
	objects map[string][]byte
	parts   map[string][][]byte
	calls   []string
	aborted bool
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.calls = append(f.calls, "PutObject")
	b, _ := io.ReadAll(in.Body)
	f.objects[*in.Key] = b
	return &s3.PutObjectOutput{}, nil
}
func (f *fakeS3) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	f.calls = append(f.calls, "CreateMultipartUpload")
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("up1")}, nil
}
func (f *fakeS3) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	f.calls = append(f.calls, fmt.Sprintf("UploadPart %d", *in.PartNumber))
	b, _ := io.ReadAll(in.Body)
	f.parts[*in.Key] = append(f.parts[*in.Key], b)
	return &s3.UploadPartOutput{ETag: aws.String(fmt.Sprint(*in.PartNumber))}, nil
}
func (f *fakeS3) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	f.calls = append(f.calls, fmt.Sprintf("CompleteMultipartUpload %d", len(in.MultipartUpload.Parts)))
	f.objects[*in.Key] = bytes.Join(f.parts[*in.Key], nil)
	return &s3.CompleteMultipartUploadOutput{}, nil
}
func (f *fakeS3) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	f.calls = append(f.calls, "AbortMultipartUpload")
	f.aborted = true
	return &s3.AbortMultipartUploadOutput{}, nil
}

func TestUpload(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	for _, c := range []struct {
		name  string
		lines int
		calls []string
	}{
		{"smaller than a part: one PutObject", 5, []string{"PutObject"}},
		{"empty: an empty object", 0, []string{"PutObject"}},
		{"parts as they fill, then the rest", 25, []string{"CreateMultipartUpload", "UploadPart 1", "UploadPart 2", "UploadPart 3", "CompleteMultipartUpload 3"}},
		{"exactly two parts", 20, []string{"CreateMultipartUpload", "UploadPart 1", "UploadPart 2", "CompleteMultipartUpload 2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeS3{objects: map[string][]byte{}, parts: map[string][][]byte{}}
			u := newUpload(context.Background(), f, "b", "k", "text/csv", 1000)
			for range c.lines {
				if _, err := io.WriteString(u, line); err != nil {
					t.Fatal(err)
				}
			}
			if err := u.Close(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.calls, c.calls) {
				t.Errorf("calls %v, want %v", f.calls, c.calls)
			}
			if got := string(f.objects["k"]); got != strings.Repeat(line, c.lines) {
				t.Errorf("object of %d bytes, want %d", len(got), c.lines*len(line))
			}
			if len(f.parts["k"]) > 1 && len(f.parts["k"][0]) < 1000 {
				t.Errorf("a part of %d bytes, under the part size", len(f.parts["k"][0]))
			}
		})
	}
	t.Run("abort drops a started upload", func(t *testing.T) {
		f := &fakeS3{objects: map[string][]byte{}, parts: map[string][][]byte{}}
		u := newUpload(context.Background(), f, "b", "k", "text/csv", 100)
		io.WriteString(u, strings.Repeat(line, 3))
		if err := u.Abort(context.Background()); err != nil || !f.aborted {
			t.Fatalf("abort: %v %v", err, f.calls)
		}
		if _, ok := f.objects["k"]; ok {
			t.Error("an aborted upload left an object")
		}
	})
}
