package sources

import (
	"context"
	"io"
	"strings"
	"testing"
)

// nullStore is an UploadStore holding nothing.
type nullStore struct{}

func (nullStore) Lookup(context.Context, FileID, FileType) ([]string, error) { return nil, nil }
func (nullStore) Open(context.Context, string) (io.ReadCloser, error)        { return nil, ErrNotFound }

func TestParseConfig(t *testing.T) {
	all := ConfigOptions{AllowFilesystem: true, Uploaded: nullStore{}}
	tests := []struct {
		name string
		json string
		opts ConfigOptions
		// check inspects the built source; nil means only that it built.
		check func(t *testing.T, s Source)
		// wantErr, when set, is a substring of the expected error.
		wantErr string
	}{
		{name: "filesystem", opts: all,
			json: `{"type":"filesystem","id":"local","path":"/srv/symbols","layout":{"type":"symstore","casing":"lowercase"},"is_public":true}`,
			check: func(t *testing.T, s Source) {
				fs := s.(*Filesystem)
				if fs.root != "/srv/symbols" || fs.layout != (DirectoryLayout{LayoutSymstore, CaseLower}) {
					t.Errorf("filesystem %+v", fs)
				}
			}},
		{name: "filesystem refused", json: `{"type":"filesystem","id":"local","path":"/etc"}`,
			wantErr: `source "local": type "filesystem" is not allowed`},
		{name: "filesystem without path", opts: all, json: `{"type":"filesystem","id":"local"}`,
			wantErr: "path is required"},
		{name: "http", json: `{"type":"http","id":"ms","url":"https://msdl.microsoft.com/download/symbols/",
			"layout":{"type":"symstore"},"headers":{"X-Key":"k"},"bearer_token":"t","new_sentry_key":{"x":1},
			"filters":{"filetypes":["pe","pdb","portablepdb"],"path_patterns":["c:/windows/**"],"requires_checksum":true}}`,
			check: func(t *testing.T, s Source) {
				h := s.(*HTTP)
				c := h.cfg
				if c.Layout.Type != LayoutSymstore || c.Headers["X-Key"] != "k" || c.BearerToken != "t" || c.AllowPrivate ||
					len(c.Filters.FileTypes) != 2 || c.Filters.FileTypes[1] != FilePDB || c.Filters.PathPatterns[0] != "c:/windows/**" ||
					!c.Filters.RequireDebugID {
					t.Errorf("http %+v", c)
				}
			}},
		{name: "http basic auth and options", opts: ConfigOptions{AllowPrivate: true, HTTPTimeout: 7},
			json: `{"type":"http","id":"h","url":"http://127.0.0.1:8000","username":"u","password":"p"}`,
			check: func(t *testing.T, s Source) {
				c := s.(*HTTP).cfg
				if c.Username != "u" || c.Password != "p" || !c.AllowPrivate || c.Timeout != 7 || c.Layout.Type != LayoutNative {
					t.Errorf("http %+v", c)
				}
			}},
		{name: "http invalid certs", json: `{"type":"http","id":"h","url":"https://x.invalid/","accept_invalid_certs":true}`,
			wantErr: "accept_invalid_certs true is not supported"},
		{name: "http bad url", json: `{"type":"http","id":"h","url":"ftp://x.invalid/"}`, wantErr: `url "ftp://x.invalid/": want an absolute http(s) URL`},
		{name: "http no url", json: `{"type":"http","id":"h"}`, wantErr: "url is required"},
		{name: "only unsupported filetypes match nothing", json: `{"type":"http","id":"h","url":"https://x.invalid/","filters":{"filetypes":["portablepdb"]}}`,
			check: func(t *testing.T, s Source) {
				pe, _, _, _ := exampleIDs(t)
				if c := s.Candidates(t.Context(), pe, FileTypesFor(ObjectPE)); len(c) != 0 {
					t.Errorf("candidates %+v", c)
				}
			}},
		{name: "s3 region string", json: `{"type":"s3","id":"b","bucket":"syms","prefix":"p","region":"eu-west-1","access_key":"a","secret_key":"s"}`,
			check: func(t *testing.T, s Source) {
				c := s.(*S3).cfg
				if c.Region != "eu-west-1" || c.Endpoint != "s3.amazonaws.com" || c.Insecure || c.Prefix != "p/" || c.AccessKey != "a" {
					t.Errorf("s3 %+v", c)
				}
			}},
		{name: "s3 region array", json: `{"type":"s3","id":"b","bucket":"syms","region":["minio","http://minio.local:9000"],"access_key":"a","secret_key":"s"}`,
			check: func(t *testing.T, s Source) {
				c := s.(*S3).cfg
				if c.Region != "minio" || c.Endpoint != "minio.local:9000" || !c.Insecure {
					t.Errorf("s3 %+v", c)
				}
			}},
		{name: "s3 endpoint extension", opts: ConfigOptions{AllowPrivate: true}, json: `{"type":"s3","id":"b","bucket":"syms","endpoint":"https://s3.example:9443","access_key":"a","secret_key":"s"}`,
			check: func(t *testing.T, s Source) {
				c := s.(*S3).cfg
				if c.Endpoint != "s3.example:9443" || c.Insecure || !c.AllowPrivate {
					t.Errorf("s3 %+v", c)
				}
			}},
		{name: "s3 container credentials", json: `{"type":"s3","id":"b","bucket":"syms","aws_credentials_provider":"container"}`,
			opts: ConfigOptions{AllowServerCredentials: true}},
		{name: "s3 container credentials from a request", json: `{"type":"s3","id":"b","bucket":"syms","aws_credentials_provider":"container"}`,
			wantErr: `would sign with this server's own credentials`},
		{name: "s3 bad region", json: `{"type":"s3","id":"b","bucket":"syms","region":["a"],"access_key":"a","secret_key":"s"}`,
			wantErr: `region ["a"]: want an AWS region name or ["name", "http(s)://host:port"]`},
		{name: "s3 bad endpoint", json: `{"type":"s3","id":"b","bucket":"syms","region":["r","gopher://x"],"access_key":"a","secret_key":"s"}`,
			wantErr: `region[1] "gopher://x": want http(s)://host[:port]`},
		{name: "s3 no bucket", json: `{"type":"s3","id":"b","access_key":"a","secret_key":"s"}`, wantErr: "bucket is required"},
		{name: "s3 no keys", json: `{"type":"s3","id":"b","bucket":"syms"}`, wantErr: "access_key and secret_key are required"},
		{name: "s3 bad provider", json: `{"type":"s3","id":"b","bucket":"syms","aws_credentials_provider":"magic"}`, wantErr: `aws_credentials_provider "magic": want static or container`},
		{name: "gcs hmac", json: `{"type":"gcs","id":"g","bucket":"syms","prefix":"x/","access_key":"GOOG1","secret_key":"s"}`,
			check: func(t *testing.T, s Source) {
				c := s.(*S3).cfg
				if c.Endpoint != "storage.googleapis.com" || c.Bucket != "syms" || c.Prefix != "x/" || c.AccessKey != "GOOG1" {
					t.Errorf("gcs %+v", c)
				}
			}},
		{name: "gcs service account", json: `{"type":"gcs","id":"g","bucket":"syms","private_key":"-----BEGIN","client_email":"a@b.iam"}`,
			wantErr: "Cairn reads GCS through its S3 interoperability API; create HMAC keys"},
		{name: "gcs no keys", json: `{"type":"gcs","id":"g","bucket":"syms"}`, wantErr: "GCS HMAC keys"},
		{name: "sentry remote", json: `{"type":"sentry","id":"sentry:project","url":"https://sentry.example/api/0/projects/o/p/files/dsyms/","token":"tok"}`,
			check: func(t *testing.T, s Source) {
				c := s.(*Sentry).cfg
				if c.Token != "tok" || c.URL != "https://sentry.example/api/0/projects/o/p/files/dsyms/" {
					t.Errorf("sentry %+v", c)
				}
			}},
		{name: "sentry internal", opts: all, json: `{"type":"sentry","id":"sentry:project","url":"internal"}`,
			check: func(t *testing.T, s Source) {
				if _, ok := s.(*Uploaded); !ok {
					t.Errorf("got %T", s)
				}
			}},
		{name: "sentry empty url", opts: all, json: `{"type":"sentry","id":"sentry:project"}`,
			check: func(t *testing.T, s Source) {
				if _, ok := s.(*Uploaded); !ok {
					t.Errorf("got %T", s)
				}
			}},
		{name: "sentry internal without store", json: `{"type":"sentry","id":"s","url":"internal"}`, wantErr: "does not have"},
		{name: "sentry bad url", json: `{"type":"sentry","id":"s","url":"sentry.example/x"}`, wantErr: "files/dsyms/ endpoint"},
		{name: "bad json", json: `{"type":`, wantErr: "sources: source config:"},
		{name: "missing id", json: `{"type":"http","url":"https://x.invalid/"}`, wantErr: `source of type "http": id is required`},
		{name: "missing type", json: `{"id":"x"}`, wantErr: `source "x": type is required: want one of filesystem, http, s3, gcs, sentry`},
		{name: "unknown type", json: `{"type":"ftp","id":"x"}`, wantErr: `source "x": type "ftp": want one of filesystem, http, s3, gcs, sentry`},
		{name: "unknown layout", json: `{"type":"http","id":"x","url":"https://x.invalid/","layout":{"type":"foo"}}`,
			wantErr: `sources: source "x": layout.type "foo": want one of native, symstore, symstore_index2, ssqp, debuginfod, unified, slashsymbols`},
		{name: "unknown casing", json: `{"type":"http","id":"x","url":"https://x.invalid/","layout":{"casing":"camel"}}`,
			wantErr: `layout.casing "camel": want one of default, lowercase, uppercase`},
		{name: "unknown filetype", json: `{"type":"http","id":"x","url":"https://x.invalid/","filters":{"filetypes":["pe","exe"]}}`,
			wantErr: `filters.filetypes: "exe": want one of pe, pdb, mach_code`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseConfig([]byte(tc.json), tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.ID() == "" {
				t.Error("empty id")
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestParseConfigs(t *testing.T) {
	opts := ConfigOptions{AllowFilesystem: true}
	srcs, err := ParseConfigs([]byte(`[
		{"type":"filesystem","id":"a","path":"/x"},
		{"type":"http","id":"b","url":"https://x.invalid/"},
		{"type":"sentry","id":"c","url":"https://sentry.example/api/0/projects/o/p/files/dsyms/"}]`), opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range srcs {
		ids = append(ids, s.ID())
	}
	if strings.Join(ids, ",") != "a,b,c" {
		t.Errorf("ids %v", ids)
	}
	if srcs, err := ParseConfigs([]byte(` null `), opts); err != nil || len(srcs) != 0 {
		t.Errorf("null: %v %v", srcs, err)
	}
	for _, tc := range []struct{ json, wantErr string }{
		{`{"type":"http"}`, "want a JSON array of source objects"},
		{`[1]`, "want a JSON array of source objects"},
		{`[{"type":"http","id":"a","url":"https://x.invalid/"},{"type":"http","id":"a","url":"https://y.invalid/"}]`,
			`source "a": id used by sources 0 and 1; ids must be unique`},
		{`[{"type":"http","id":"a","url":"https://x.invalid/"},{"type":"nope","id":"b"}]`, `source "b": type "nope"`},
	} {
		if _, err := ParseConfigs([]byte(tc.json), opts); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q", tc.json, err, tc.wantErr)
		}
	}
}
