package scrub_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cairn-dev/cairn/ingest/scrub"
)

func TestSensitiveKey(t *testing.T) {
	s := scrub.New([]string{"ssn", " Customer-ID "})
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true}, {"PASSWORD", true}, {"db_password", true}, {"passwd", true},
		{"secret", true}, {"client_secret", true}, {"api_key", true}, {"API-Key", true}, {"apikey", true},
		{"X-Api-Key", true}, {"auth", true}, {"Authorization", true}, {"credentials", true},
		{"access_token", true}, {"refresh_token", true}, {"csrftoken", true}, {"token", true},
		{"Cookie", true}, {"cookies", true}, {"Set-Cookie", true}, {"sessionid", true}, {"session_key", true},
		{"PHPSESSID", true}, {"connect.sid", true}, {"_xsrf", true}, {"mysql_pwd", true},
		{"private_key", true}, {"privateKey", true}, {"otp", true}, {"two-factor", true}, {"sid", true},
		{"ssn", true}, {"user_ssn", true}, {"customer_id", true},
		{"", false}, {"username", false}, {"email", false}, {"message", false}, {"side", false},
		{"footprint", false}, {"filename", false}, {"function", false}, {"id", false},
	}
	for _, tt := range tests {
		if got := s.SensitiveKey(tt.key); got != tt.want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestEvent(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		in    string
		want  string // "" means unchanged
	}{
		{
			name: "nothing sensitive",
			in:   `{"message":"hello","extra":{"count":3,"when":1732531200000}}`,
		},
		{
			name: "request headers cookies query and data",
			in: `{"request":{"url":"https://u:hunter2@example.com/login?user=bob&password=hunter2#top",` +
				`"headers":{"Authorization":"Basic eHg=","Cookie":"a=b","Accept":"*/*"},` +
				`"cookies":{"sessionid":"abc"},"query_string":"next=%2F&api_key=k1&x=1",` +
				`"data":{"username":"bob","password":"hunter2"}}}`,
			want: `{"request":{"url":"https://u:[Filtered]@example.com/login?user=bob&password=[Filtered]#top",` +
				`"headers":{"Authorization":"[Filtered]","Cookie":"[Filtered]","Accept":"*/*"},` +
				`"cookies":"[Filtered]","query_string":"next=%2F&api_key=[Filtered]&x=1",` +
				`"data":{"username":"bob","password":"[Filtered]"}}}`,
		},
		{
			name: "header and query pairs",
			in:   `{"request":{"headers":[["X-Auth-Token","t"],["Accept","json"]],"query_string":[["token","x"],["page","2"]]}}`,
			want: `{"request":{"headers":[["X-Auth-Token","[Filtered]"],["Accept","json"]],"query_string":[["token","[Filtered]"],["page","2"]]}}`,
		},
		{
			name: "form data string",
			in:   `{"request":{"data":"user=bob&passwd=x"}}`,
			want: `{"request":{"data":"user=bob&passwd=[Filtered]"}}`,
		},
		{
			name: "extra contexts tags breadcrumbs and frame vars",
			in: `{"extra":{"db":{"secret":"s","host":"h"}},"contexts":{"app":{"api_key":"k"}},` +
				`"tags":{"auth":"x","env":"prod"},"breadcrumbs":{"values":[{"data":{"access_token":"t","url":"/a?token=z"}}]},` +
				`"exception":{"values":[{"stacktrace":{"frames":[{"function":"f","vars":{"password":"p","n":1}}]}}]}}`,
			want: `{"breadcrumbs":{"values":[{"data":{"access_token":"[Filtered]","url":"/a?token=[Filtered]"}}]},` +
				`"contexts":{"app":{"api_key":"[Filtered]"}},` +
				`"exception":{"values":[{"stacktrace":{"frames":[{"function":"f","vars":{"n":1,"password":"[Filtered]"}}]}}]},` +
				`"extra":{"db":{"host":"h","secret":"[Filtered]"}},"tags":{"auth":"[Filtered]","env":"prod"}}`,
		},
		{
			name: "tags as pairs",
			in:   `{"tags":[["session","s1"],["level","x"]]}`,
			want: `{"tags":[["session","[Filtered]"],["level","x"]]}`,
		},
		{
			name: "whole sensitive containers, null and empty kept",
			in:   `{"extra":{"credentials":{"user":"u","pass":"p"},"token":null,"password":""}}`,
			want: `{"extra":{"credentials":"[Filtered]","password":"","token":null}}`,
		},
		{
			name:  "project fields",
			extra: []string{"ssn"},
			in:    `{"user":{"id":"1"},"extra":{"user_ssn":"123-45-6789"}}`,
			want:  `{"extra":{"user_ssn":"[Filtered]"},"user":{"id":"1"}}`,
		},
		{
			name: "credit cards in strings and numbers",
			in:   `{"message":"paid with 4111 1111 1111 1111 exp 2030","extra":{"card":4111111111111111,"ts":1732531200000,"n":"5555-5555-5555-4444"}}`,
			want: `{"extra":{"card":"[Filtered]","n":"[Filtered]","ts":1732531200000},"message":"paid with [Filtered] exp 2030"}`,
		},
		{
			name: "bearer token in a value",
			in:   `{"message":"call failed with bearer abc.def.ghi from client"}`,
			want: `{"message":"call failed with [Filtered] from client"}`,
		},
		{
			name: "source context lines are not pairs",
			in:   `{"frames":[{"pre_context":["  password = read()","  x = 1"]}]}`,
		},
		{
			name: "html characters survive re-encoding",
			in:   `{"message":"<a href=\"x\">&</a>","extra":{"secret":"s"}}`,
			want: `{"extra":{"secret":"[Filtered]"},"message":"<a href=\"x\">&</a>"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := scrub.New(tt.extra).Event([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if changed || string(out) != tt.in {
					t.Fatalf("changed to %s", out)
				}
				return
			}
			if !changed {
				t.Fatalf("unchanged: %s", out)
			}
			var got, want any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output is not JSON: %v: %s", err, out)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}

func TestEventInvalidJSON(t *testing.T) {
	if _, _, err := scrub.New(nil).Event([]byte(`{"a":`)); err == nil {
		t.Fatal("no error for truncated JSON")
	}
}

func TestCards(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"4111111111111111", scrub.Filtered},
		{"card 378282246310005.", "card [Filtered]."},                          // Amex, 15 digits
		{"6011111111111117 and 3530111333300000", "[Filtered] and [Filtered]"}, // Discover, JCB
		{"30569309025904", scrub.Filtered},                                     // Diners, 14 digits
		{"6200000000000005", scrub.Filtered},                                   // UnionPay
		{"2223003122003222", scrub.Filtered},                                   // Mastercard 2-series
		{"4111111111111112", "4111111111111112"},                               // Luhn fails
		{"1732531200000", "1732531200000"},                                     // ms timestamp, no network prefix
		{"x4111111111111111", "x4111111111111111"},                             // not standalone
		{"41111111111111111111111", "41111111111111111111111"},                 // too long
		{"id 4111-1111-1111-1111-22", "id [Filtered]-22"},
		{"no digits here", "no digits here"},
	}
	s := scrub.New(nil)
	for _, tt := range tests {
		v, _ := s.Value(tt.in)
		if v != tt.want {
			t.Errorf("Value(%q) = %q, want %q", tt.in, v, tt.want)
		}
	}
}

func TestValueKeepsTypes(t *testing.T) {
	in := map[string]any{"a": []any{json.Number("1"), true, nil, 2.5}, "b": map[string]any{}}
	out, changed := scrub.New(nil).Value(in)
	if changed || !reflect.DeepEqual(out, in) {
		t.Fatalf("changed: %v", out)
	}
}

func FuzzEvent(f *testing.F) {
	f.Add([]byte(`{"request":{"headers":[["Cookie","a"]],"url":"http://a:b@c/?token=1"},"message":"4111111111111111"}`))
	f.Add([]byte(`{"extra":{"password":{"x":[1,2,{"y":"bearer t"}]}}}`))
	s := scrub.New([]string{"custom"})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := s.Event(b)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
		// Scrubbing is idempotent.
		again, changed, err := s.Event(out)
		if err != nil || changed {
			t.Fatalf("second pass changed %s to %s (%v)", out, again, err)
		}
	})
}
