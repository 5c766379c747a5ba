package fakemodel

import (
	"encoding/json"
	"strings"
)

// parse fills req's Format, Model, Stream and Prompt from its path and body.
func parse(req *Request) {
	switch {
	case req.Path == "/v1/messages":
		req.Format = FormatAnthropic
		var b struct {
			Model     string          `json:"model"`
			Stream    bool            `json:"stream"`
			MaxTokens int             `json:"max_tokens"`
			System    json.RawMessage `json:"system"`
			Messages  []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		json.Unmarshal(req.Body, &b)
		req.Model, req.Stream, req.MaxTokens = b.Model, b.Stream, b.MaxTokens
		texts := blockTexts(b.System)
		for _, m := range b.Messages {
			if m.Role == "user" {
				texts = append(texts, blockTexts(m.Content)...)
			}
		}
		req.Prompt = strings.Join(texts, "\n")
	case strings.HasPrefix(req.Path, "/v1beta/models/") || strings.HasPrefix(req.Path, "/v1/models/"):
		rest := req.Path[strings.Index(req.Path, "/models/")+len("/models/"):]
		model, method, ok := strings.Cut(rest, ":")
		if !ok || (method != "generateContent" && method != "streamGenerateContent") {
			return
		}
		req.Format, req.Model, req.Stream = FormatGemini, model, method == "streamGenerateContent"
		type content struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		}
		var b struct {
			SystemInstruction  *content  `json:"systemInstruction"`
			SystemInstruction2 *content  `json:"system_instruction"`
			Contents           []content `json:"contents"`
		}
		json.Unmarshal(req.Body, &b)
		var texts []string
		for _, c := range []*content{b.SystemInstruction, b.SystemInstruction2} {
			if c != nil {
				for _, p := range c.Parts {
					texts = append(texts, p.Text)
				}
			}
		}
		for _, c := range b.Contents {
			if c.Role == "" || c.Role == "user" {
				for _, p := range c.Parts {
					texts = append(texts, p.Text)
				}
			}
		}
		req.Prompt = strings.Join(texts, "\n")
	case req.Path == "/v1/chat/completions" || req.Path == "/chat/completions" || req.Path == "/api/paas/v4/chat/completions":
		req.Format = FormatOpenAI
		var b struct {
			Model     string `json:"model"`
			Stream    bool   `json:"stream"`
			MaxTokens int    `json:"max_tokens"`
			Messages  []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		json.Unmarshal(req.Body, &b)
		req.Model, req.Stream, req.MaxTokens = b.Model, b.Stream, b.MaxTokens
		var texts []string
		for _, m := range b.Messages {
			if m.Role == "system" || m.Role == "developer" || m.Role == "user" {
				texts = append(texts, blockTexts(m.Content)...)
			}
		}
		req.Prompt = strings.Join(texts, "\n")
	}
}

// blockTexts reads a content field that is either a string or an array of
// {"type":"text","text":…} blocks (Anthropic and OpenAI both allow both).
func blockTexts(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &blocks)
	var out []string
	for _, b := range blocks {
		if b.Type == "text" || b.Type == "input_text" {
			out = append(out, b.Text)
		}
	}
	return out
}

// tokens is a stand-in token count: the number of words, at least 1.
func tokens(s string) int {
	if n := len(strings.Fields(s)); n > 0 {
		return n
	}
	return 1
}

// pieces splits the reply into the deltas of a stream, line by line, so a
// client must concatenate several deltas to get the text back.
func pieces(reply string) []string {
	var out []string
	for _, p := range strings.SplitAfter(reply, "\n") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func anthropicAnswer(req Request, p plan) answer {
	in, out := tokens(req.Prompt), tokens(p.reply)
	if !req.Stream {
		return answer{parts: []string{mustJSON(map[string]any{
			"id": "msg_01fakemodel", "type": "message", "role": "assistant", "model": p.model,
			"content":     []any{map[string]any{"type": "text", "text": p.reply}},
			"stop_reason": "end_turn", "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": in, "output_tokens": out},
		})}}
	}
	ev := func(name string, v any) string { return "event: " + name + "\ndata: " + mustJSON(v) + "\n\n" }
	parts := []string{
		ev("message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": "msg_01fakemodel", "type": "message", "role": "assistant", "model": p.model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": in, "output_tokens": 1},
		}}),
		ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}}),
		ev("ping", map[string]any{"type": "ping"}),
	}
	for _, piece := range pieces(p.reply) {
		parts = append(parts, ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": piece}}))
	}
	parts = append(parts,
		ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}),
		ev("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": out}}),
		ev("message_stop", map[string]any{"type": "message_stop"}),
	)
	return answer{sse: true, parts: parts}
}

func geminiAnswer(req Request, p plan) answer {
	in, out := tokens(req.Prompt), tokens(p.reply)
	usage := map[string]any{"promptTokenCount": in, "candidatesTokenCount": out, "totalTokenCount": in + out}
	chunk := func(text string, final bool) map[string]any {
		cand := map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"}, "index": 0}
		if final {
			cand["finishReason"] = "STOP"
		}
		return map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "modelVersion": p.model, "responseId": "fakemodel-response"}
	}
	if !req.Stream {
		return answer{parts: []string{mustJSON(chunk(p.reply, true))}}
	}
	ps := pieces(p.reply)
	if len(ps) == 0 {
		ps = []string{""}
	}
	var parts []string
	for i, piece := range ps {
		parts = append(parts, "data: "+mustJSON(chunk(piece, i == len(ps)-1))+"\n\n")
	}
	return answer{sse: true, parts: parts}
}

func openAIAnswer(req Request, p plan) answer {
	in, out := tokens(req.Prompt), tokens(p.reply)
	usage := map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
	const id, created = "chatcmpl-fakemodel", 1700000000
	if !req.Stream {
		return answer{parts: []string{mustJSON(map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": p.model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "logprobs": nil,
				"message": map[string]any{"role": "assistant", "content": p.reply}}},
			"usage": usage,
		})}}
	}
	var opts struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	json.Unmarshal(req.Body, &opts)
	chunk := func(delta map[string]any, finish any) string {
		return "data: " + mustJSON(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": p.model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}},
		}) + "\n\n"
	}
	parts := []string{chunk(map[string]any{"role": "assistant", "content": ""}, nil)}
	for _, piece := range pieces(p.reply) {
		parts = append(parts, chunk(map[string]any{"content": piece}, nil))
	}
	parts = append(parts, chunk(map[string]any{}, "stop"))
	if opts.StreamOptions.IncludeUsage {
		parts = append(parts, "data: "+mustJSON(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": p.model,
			"choices": []any{}, "usage": usage,
		})+"\n\n")
	}
	parts = append(parts, "data: [DONE]\n\n")
	return answer{sse: true, parts: parts}
}
