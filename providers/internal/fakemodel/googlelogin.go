package fakemodel

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// FormatCodeAssist is Request.Format for a model call to the Code Assist
// API (GoogleLogin).
const FormatCodeAssist = "codeassist"

// The Google hosts GoogleLogin's proxy serves; a CONNECT to any other host
// is refused.
const (
	googleOAuthHost   = "oauth2.googleapis.com"
	googleAPIsHost    = "www.googleapis.com"
	codeAssistVersion = "/v1internal:"
)

// GoogleLogin is a fake of what the Gemini CLI talks to with a Google
// login (auth type oauth-personal), on 127.0.0.1:
//
//   - the Code Assist API at URL (the CLI's CODE_ASSIST_ENDPOINT):
//     POST /v1internal:loadCodeAssist answers a free-tier user with a
//     project; :generateContent and :streamGenerateContent?alt=sse answer
//     the reply in Code Assist's envelope ({"response": <Gemini answer>});
//     every other /v1internal: method answers {};
//   - Google's OAuth endpoints, which the CLI calls only at their real
//     https addresses: POST https://oauth2.googleapis.com/token (a
//     refresh: it issues AccessToken), GET .../tokeninfo and GET
//     https://www.googleapis.com/oauth2/v2/userinfo. They are served
//     through ProxyURL, an HTTP CONNECT proxy (the CLI's HTTPS_PROXY) that
//     terminates TLS with a certificate for those two names from a CA made
//     for this fake, in CAFile (the CLI's NODE_EXTRA_CA_CERTS). The proxy
//     connects nowhere: a CONNECT to any other host is refused.
//
// Every request is recorded (Requests); the OAuth ones with their https
// URL as Path. GET /_fakemodel/requests on URL returns them (JSON; Body is
// base64), unrecorded, for a test in another process
// (cmd/fakegooglelogin). It never contacts anything.
type GoogleLogin struct {
	URL      string
	ProxyURL string
	CAFile   string
	// AccessToken is the token a refresh issues.
	AccessToken string

	api, proxy *httptest.Server
	google     *http.Server
	tunnels    *connListener

	mu       sync.Mutex
	reply    string
	requests []Request
}

// NewGoogleLogin starts a GoogleLogin, with its CA in a temporary
// directory, and closes it when the test ends.
func NewGoogleLogin(t testing.TB) *GoogleLogin {
	t.Helper()
	g, err := StartGoogleLogin(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// StartGoogleLogin starts a GoogleLogin that writes its CA certificate into
// dir and runs until Close.
func StartGoogleLogin(dir string) (*GoogleLogin, error) {
	cert, caPEM, err := googleCert()
	if err != nil {
		return nil, err
	}
	g := &GoogleLogin{CAFile: filepath.Join(dir, "fake-google-ca.pem"), AccessToken: "fake-refreshed-access-token", reply: DefaultReply}
	if err := os.WriteFile(g.CAFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	g.api = httptest.NewServer(http.HandlerFunc(g.serveAPI))
	g.URL = strings.TrimSuffix(g.api.URL, "/")
	g.tunnels = &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
	// A client that does not trust the CA fails its handshake: that is
	// the client's error to report, not the fake's to log.
	g.google = &http.Server{Handler: http.HandlerFunc(g.serveGoogle), ErrorLog: log.New(io.Discard, "", 0)}
	go g.google.Serve(tls.NewListener(g.tunnels, &tls.Config{Certificates: []tls.Certificate{cert}}))
	g.proxy = httptest.NewServer(http.HandlerFunc(g.serveProxy))
	g.ProxyURL = strings.TrimSuffix(g.proxy.URL, "/")
	return g, nil
}

// Close stops the servers and drops every open connection.
func (g *GoogleLogin) Close() {
	g.proxy.CloseClientConnections()
	g.proxy.Close()
	g.google.Close()
	g.tunnels.Close()
	g.api.CloseClientConnections()
	g.api.Close()
}

// SetReply sets the answer text (default DefaultReply).
func (g *GoogleLogin) SetReply(text string) { g.mu.Lock(); g.reply = text; g.mu.Unlock() }

// Requests returns a copy of every request received so far, in order.
func (g *GoogleLogin) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.requests...)
}

func (g *GoogleLogin) record(r *http.Request, path string) Request {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	req := Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	if method, ok := strings.CutPrefix(path, codeAssistVersion); ok && (method == "generateContent" || method == "streamGenerateContent") {
		// The envelope carries a Gemini request: parse it as one.
		var env struct {
			Model   string          `json:"model"`
			Request json.RawMessage `json:"request"`
		}
		json.Unmarshal(body, &env)
		inner := Request{Path: "/v1beta/models/" + env.Model + ":" + method, Body: env.Request}
		parse(&inner)
		req.Format, req.Model, req.Stream, req.Prompt = FormatCodeAssist, inner.Model, inner.Stream, inner.Prompt
	}
	g.mu.Lock()
	g.requests = append(g.requests, req)
	g.mu.Unlock()
	return req
}

// serveAPI is the Code Assist API.
func (g *GoogleLogin) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == controlPrefix+"requests" {
		writeJSON(w, http.StatusOK, g.Requests())
		return
	}
	req := g.record(r, r.URL.Path)
	method, ok := strings.CutPrefix(r.URL.Path, codeAssistVersion)
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "not found", "status": "NOT_FOUND"}})
	case method == "loadCodeAssist":
		writeJSON(w, http.StatusOK, map[string]any{
			"currentTier":             map[string]any{"id": "free-tier", "name": "Gemini Code Assist for individuals"},
			"allowedTiers":            []any{map[string]any{"id": "free-tier", "isDefault": true}},
			"cloudaicompanionProject": "fake-project",
		})
	case req.Format == FormatCodeAssist:
		g.mu.Lock()
		reply := g.reply
		g.mu.Unlock()
		model := req.Model
		if model == "" {
			model = "fake-model"
		}
		inner := Request{Prompt: req.Prompt}
		a := geminiAnswer(inner, plan{reply: reply, model: model})
		envelope := `{"response":` + a.String() + `,"traceId":"fakemodel-trace"}`
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, envelope)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+envelope+"\n\n")
	default:
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

// serveGoogle is Google's OAuth side, reached through the proxy's tunnels.
func (g *GoogleLogin) serveGoogle(w http.ResponseWriter, r *http.Request) {
	g.record(r, "https://"+r.Host+r.URL.Path)
	switch {
	case r.Host == googleOAuthHost && r.URL.Path == "/token":
		writeJSON(w, http.StatusOK, map[string]any{"access_token": g.AccessToken, "expires_in": 3599, "token_type": "Bearer",
			"scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"})
	case r.Host == googleOAuthHost && r.URL.Path == "/tokeninfo":
		writeJSON(w, http.StatusOK, map[string]any{"azp": "fake", "aud": "fake", "expires_in": "3599", "email": "user@example.com",
			"scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email"})
	case r.Host == googleAPIsHost && r.URL.Path == "/oauth2/v2/userinfo":
		writeJSON(w, http.StatusOK, map[string]any{"id": "1", "email": "user@example.com", "verified_email": true})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found"})
	}
}

// serveProxy tunnels a CONNECT to one of the Google hosts into the fake's
// TLS server; it refuses every other host. A plain request for the Code
// Assist API (a client that proxies it too) is answered directly.
func (g *GoogleLogin) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		if "http://"+r.URL.Host == g.URL {
			g.serveAPI(w, r)
			return
		}
		http.Error(w, "fakemodel: this proxy connects nowhere", http.StatusForbidden)
		return
	}
	host, port, _ := net.SplitHostPort(r.Host)
	if port != "443" || (host != googleOAuthHost && host != googleAPIsHost) {
		g.record(r, "CONNECT "+r.Host)
		http.Error(w, "fakemodel: this proxy connects nowhere", http.StatusForbidden)
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n")
	if !g.tunnels.push(&bufferedConn{Conn: conn, r: buf.Reader}) {
		conn.Close()
	}
}

// connListener hands the proxy's tunnels to an http.Server.
type connListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// bufferedConn is a hijacked connection whose first bytes may already sit
// in the server's reader.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// googleCert makes a CA and, signed by it, a certificate for the Google
// hosts; it returns the latter and the CA in PEM.
func googleCert() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fakemodel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: googleOAuthHost},
		DNSNames:  []string{googleOAuthHost, googleAPIsHost},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
