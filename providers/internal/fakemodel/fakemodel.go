// Package fakemodel is an in-process fake of the remote model APIs the
// provider plugins talk to, served on 127.0.0.1 for tests.
//
// It speaks the real wire formats, so the real clients (CLIs, SDKs) parse
// what it sends exactly as they would parse the provider's answer:
//
//   - Anthropic Messages: POST /v1/messages (also ?beta=true), JSON or SSE
//     when "stream": true; HEAD / answers 200.
//   - Gemini: POST /v1beta/models/{model}:generateContent (JSON) and
//     :streamGenerateContent?alt=sse (SSE).
//   - OpenAI-compatible chat completions: POST /v1/chat/completions,
//     /chat/completions (DeepSeek) and /api/paas/v4/chat/completions (GLM),
//     JSON or SSE when "stream": true; GET /v1/models and /models.
//
// Faults (an exact error status and body, slow answers, keep-alives,
// dropped connections) are injected through the Server's setters. Every
// method is safe for concurrent use; the server never contacts anything.
package fakemodel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultReply is the answer text until SetReply changes it.
const DefaultReply = "Looks fine.\n\nVerdict: APPROVE"

// KeepAliveInterval is the pause between two keep-alives (SetKeepAlives).
const KeepAliveInterval = 100 * time.Millisecond

// Wire formats, as recorded in Request.Format.
const (
	FormatAnthropic = "anthropic"
	FormatGemini    = "gemini"
	FormatOpenAI    = "openai"
)

// Server is a running fake. Configure it with the setters; read what it
// received with Requests and MaxInFlight.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:<port>", without a trailing
	// slash. Append "/v1" for clients that expect it in the base URL.
	URL string

	srv *httptest.Server

	mu          sync.Mutex
	reply       string
	model       string
	failAll     bool
	failStatus  int
	failBody    string
	failHeader  http.Header
	failNext    int
	delay       time.Duration
	keepAlives  int
	drop        bool
	hold        bool
	requests    []Request
	inFlight    int
	maxInFlight int
	releaseAt   int
	// release is closed to end the delay of every request waiting in it;
	// Release and SetReleaseAt replace it.
	release chan struct{}
}

// Request is one request the server received.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
	// Format is "anthropic", "gemini" or "openai"; empty for other paths
	// (HEAD /, model lists, unknown paths).
	Format string
	// Model is the requested model (body field, or the Gemini path segment).
	Model string
	// Stream is true when the client asked for SSE.
	Stream bool
	// Prompt is all system and user text of the request, concatenated in
	// order and separated by newlines.
	Prompt string
	// MaxTokens is the body's max_tokens (Anthropic, OpenAI); 0 if absent.
	MaxTokens int
}

// New starts a fake on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake that runs until Close; for use outside a test (the
// fakemodel command). Tests use New.
func Start() *Server {
	s := &Server{reply: DefaultReply, release: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = strings.TrimSuffix(s.srv.URL, "/")
	return s
}

// Close stops the server and drops every open connection.
func (s *Server) Close() {
	// Hijacked or stalled connections must not keep Close waiting.
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// SetReply sets the answer text (default DefaultReply).
func (s *Server) SetReply(text string) { s.mu.Lock(); s.reply = text; s.mu.Unlock() }

// SetModelName sets the "model" field of answers; empty (the default) echoes
// the requested model.
func (s *Server) SetModelName(name string) { s.mu.Lock(); s.model = name; s.mu.Unlock() }

// FailWith makes every request answer status with exactly body (as
// application/json) until Clear.
func (s *Server) FailWith(status int, body string) {
	s.mu.Lock()
	s.failAll, s.failStatus, s.failBody, s.failNext = true, status, body, 0
	s.mu.Unlock()
}

// SetFailHeader adds a header (e.g. Retry-After) to every failure answer
// until Clear; an empty value removes it.
func (s *Server) SetFailHeader(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failHeader == nil {
		s.failHeader = http.Header{}
	}
	if value == "" {
		s.failHeader.Del(key)
		return
	}
	s.failHeader.Set(key, value)
}

// FailNext makes the next n requests answer status with exactly body; later
// requests get normal answers.
func (s *Server) FailNext(n int, status int, body string) {
	s.mu.Lock()
	s.failAll, s.failStatus, s.failBody, s.failNext = false, status, body, n
	s.mu.Unlock()
}

// Clear removes every injected fault (failures and their headers, delay,
// keep-alives, drops).
// The reply, model name and recorded requests stay.
func (s *Server) Clear() {
	s.mu.Lock()
	s.failAll, s.failStatus, s.failBody, s.failNext, s.failHeader = false, 0, "", 0, nil
	s.delay, s.keepAlives, s.drop, s.releaseAt, s.hold = 0, 0, false, 0, false
	s.mu.Unlock()
}

// SetDelay makes the server wait d before the first byte of every answer.
// A client that disconnects ends the wait.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Hold makes every request wait, after it is recorded and before the
// first byte of its answer, until Release (or Clear, for requests that
// arrive later) or until its client disconnects: a test can keep a call
// provably in flight for as long as it needs, with no timing.
func (s *Server) Hold() { s.mu.Lock(); s.hold = true; s.mu.Unlock() }

// Release ends the delay or hold of every request waiting now and sets the
// delay to zero and ends Hold, so a test can hold requests with SetDelay or
// Hold and let them go when it has seen what it waits for.
func (s *Server) Release() {
	s.mu.Lock()
	s.delay, s.hold = 0, false
	s.releaseLocked()
	s.mu.Unlock()
}

// SetReleaseAt(n) makes the delay end for every waiting request as soon as
// n requests are in flight together (0 turns it off): with a long SetDelay
// it proves n requests overlapped without relying on timing. Once
// triggered, later requests get the normal delay again.
func (s *Server) SetReleaseAt(n int) { s.mu.Lock(); s.releaseAt = n; s.mu.Unlock() }

func (s *Server) releaseLocked() {
	close(s.release)
	s.release = make(chan struct{})
}

// SetKeepAlives makes successful answers start, DeepSeek style, with n
// keep-alives, one per KeepAliveInterval: blank lines before a JSON body, or
// ": keep-alive" SSE comments before the first event. Error answers get
// none (their status line must come first).
func (s *Server) SetKeepAlives(n int) { s.mu.Lock(); s.keepAlives = n; s.mu.Unlock() }

// SetDropConnection makes successful answers stop mid-body: the server sends
// the status line, headers and part of the body, then closes the
// connection.
func (s *Server) SetDropConnection(on bool) { s.mu.Lock(); s.drop = on; s.mu.Unlock() }

// Requests returns a copy of every request so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// MaxInFlight is the peak number of requests being answered at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// plan is what one request will get, decided under the lock on arrival.
type plan struct {
	reply, model string
	fail         bool
	status       int
	body         string
	header       http.Header
	delay        time.Duration
	hold         bool
	keepAlives   int
	drop         bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	parse(&req)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.inFlight++
	if s.inFlight > s.maxInFlight {
		s.maxInFlight = s.inFlight
	}
	release := s.release
	if s.releaseAt > 0 && s.inFlight >= s.releaseAt {
		s.releaseLocked()
	}
	p := plan{reply: s.reply, model: s.model, delay: s.delay, hold: s.hold, keepAlives: s.keepAlives, drop: s.drop}
	switch {
	case s.failAll:
		p.fail, p.status, p.body = true, s.failStatus, s.failBody
	case s.failNext > 0:
		s.failNext--
		p.fail, p.status, p.body = true, s.failStatus, s.failBody
	}
	p.header = s.failHeader.Clone()
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()

	if p.model == "" {
		p.model = req.Model
	}
	if p.model == "" {
		p.model = "fake-model"
	}
	ctx := r.Context()
	if p.hold {
		select {
		case <-release:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			return
		}
	} else if !wait(ctx, p.delay, release) {
		return
	}
	if p.fail {
		for k, v := range p.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(p.status)
		io.WriteString(w, p.body)
		return
	}

	switch {
	case r.Method == http.MethodHead && r.URL.Path == "/":
		w.WriteHeader(http.StatusOK)
		return
	case r.Method == http.MethodGet && (r.URL.Path == "/v1/models" || r.URL.Path == "/models"):
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": p.model, "object": "model", "created": 1700000000, "owned_by": "fakemodel"},
		}})
		return
	case r.Method != http.MethodPost || req.Format == "":
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"message": fmt.Sprintf("fakemodel: no route for %s %s", r.Method, r.URL.Path), "type": "not_found"}})
		return
	}
	if req.Format == FormatGemini && req.Model == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "model not found", "status": "NOT_FOUND"}})
		return
	}

	var a answer
	switch req.Format {
	case FormatAnthropic:
		a = anthropicAnswer(req, p)
	case FormatGemini:
		a = geminiAnswer(req, p)
	default:
		a = openAIAnswer(req, p)
	}
	if p.drop {
		dropMidAnswer(w, a)
		return
	}
	contentType := "application/json"
	if a.sse {
		contentType = "text/event-stream"
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	flush(w)
	for i := 0; i < p.keepAlives; i++ {
		if a.sse {
			io.WriteString(w, ": keep-alive\n\n")
		} else {
			io.WriteString(w, "\n")
		}
		flush(w)
		if !sleep(ctx, KeepAliveInterval) {
			return
		}
	}
	for _, part := range a.parts {
		if _, err := io.WriteString(w, part); err != nil {
			return
		}
		flush(w)
	}
}

// answer is a successful response body, in the parts it is written in (one
// part per SSE event).
type answer struct {
	sse   bool
	parts []string
}

func (a answer) String() string { return strings.Join(a.parts, "") }

func sleep(ctx context.Context, d time.Duration) bool { return wait(ctx, d, nil) }

// wait waits d, or until release is closed; false when ctx ends first.
func wait(ctx context.Context, d time.Duration, release <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-release:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// dropMidAnswer writes a 200 with half of a's body and closes the
// connection, so the client sees an unexpected EOF. The raw response is
// written on the hijacked connection because net/http would otherwise
// finish a chunked body cleanly.
func dropMidAnswer(w http.ResponseWriter, a answer) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fakemodel: response writer cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	full := a.String()
	half := full[:len(full)/2]
	if a.sse {
		// Chunked, with the first event whole, then no terminating chunk.
		first := a.parts[0]
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(first), first)
	} else {
		// A Content-Length longer than what follows.
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(full), half)
	}
	buf.Flush()
}
