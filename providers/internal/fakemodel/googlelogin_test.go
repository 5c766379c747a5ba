package fakemodel

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestGoogleLogin: the OAuth endpoints answer at their https names through
// the proxy, trusted by the fake's CA only; the proxy connects nowhere
// else; the Code Assist API answers in its envelope and records the
// Gemini request inside it.
func TestGoogleLogin(t *testing.T) {
	g := NewGoogleLogin(t)
	pem, err := os.ReadFile(g.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("CAFile holds no certificate")
	}
	proxy, _ := url.Parse(g.ProxyURL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: roots}}}

	res, err := client.PostForm("https://oauth2.googleapis.com/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok.AccessToken != g.AccessToken || tok.ExpiresIn <= 0 {
		t.Errorf("token: HTTP %d %+v", res.StatusCode, tok)
	}
	if res, err := client.Get("https://www.googleapis.com/oauth2/v2/userinfo"); err != nil || res.StatusCode != 200 {
		t.Errorf("userinfo: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if _, err := client.Get("https://example.com/"); err == nil {
		t.Error("the proxy tunnelled to another host")
	}
	// Without the fake's CA the certificate is not trusted.
	plain := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	if _, err := plain.Get("https://oauth2.googleapis.com/tokeninfo"); err == nil {
		t.Error("the fake's certificate is trusted without its CA")
	}

	body := `{"model":"gemini-2.5-pro","project":"fake-project","request":{"contents":[{"role":"user","parts":[{"text":"review +login-marker"}]}]}}`
	res, err = http.Post(g.URL+"/v1internal:streamGenerateContent?alt=sse", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	events, _ := readSSE(t, res.Body)
	res.Body.Close()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	var chunk struct {
		Response struct {
			Candidates []struct {
				Content struct {
					Parts []struct{ Text string }
				}
				FinishReason string
			}
		}
	}
	if err := json.Unmarshal([]byte(events[0].data), &chunk); err != nil || len(chunk.Response.Candidates) != 1 ||
		chunk.Response.Candidates[0].Content.Parts[0].Text != DefaultReply || chunk.Response.Candidates[0].FinishReason != "STOP" {
		t.Errorf("stream answer %s (%v)", events[0].data, err)
	}
	res, err = http.Post(g.URL+"/v1internal:loadCodeAssist", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(data), `"cloudaicompanionProject":"fake-project"`) {
		t.Errorf("loadCodeAssist: %s", data)
	}

	var paths []string
	var model Request
	for _, r := range g.Requests() {
		paths = append(paths, r.Path)
		if r.Format == FormatCodeAssist {
			model = r
		}
	}
	want := []string{"https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v2/userinfo", "CONNECT example.com:443", "/v1internal:streamGenerateContent", "/v1internal:loadCodeAssist"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("recorded %q, want %q", paths, want)
	}
	if model.Model != "gemini-2.5-pro" || !model.Stream || !strings.Contains(model.Prompt, "+login-marker") {
		t.Errorf("model request %+v", model)
	}
	res, err = http.Get(g.URL + "/_fakemodel/requests")
	if err != nil {
		t.Fatal(err)
	}
	var listed []Request
	json.NewDecoder(res.Body).Decode(&listed)
	res.Body.Close()
	if len(listed) != len(want) {
		t.Errorf("/_fakemodel/requests listed %d, want %d", len(listed), len(want))
	}
}
