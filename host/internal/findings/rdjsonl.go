package findings

import (
	"encoding/json"
	"io"
)

// rdjsonl is reviewdog's Diagnostic Format, one Diagnostic per line:
// message (title, body, who found it), location.path and a line-wise range
// (no columns: reviewdog reads start..end as whole lines), severity
// ERROR/WARNING/INFO (high/medium/low and info), source relay-host,
// code.value the stable id, and the finding's suggestion as a suggestion
// replacing those lines. A whole-file finding has no range.

type rdDiagnostic struct {
	Message     string         `json:"message"`
	Location    rdLocation     `json:"location"`
	Severity    string         `json:"severity"`
	Source      rdSource       `json:"source"`
	Code        rdCode         `json:"code"`
	Suggestions []rdSuggestion `json:"suggestions,omitempty"`
}

type rdLocation struct {
	Path  string   `json:"path"`
	Range *rdRange `json:"range,omitempty"`
}

type rdRange struct {
	Start rdPosition `json:"start"`
	End   rdPosition `json:"end"`
}

type rdPosition struct {
	Line int `json:"line"`
}

type rdSource struct {
	Name string `json:"name"`
}

type rdCode struct {
	Value string `json:"value"`
}

type rdSuggestion struct {
	Range rdRange `json:"range"`
	Text  string  `json:"text"`
}

func rdSeverity(s Severity) string {
	switch s {
	case High:
		return "ERROR"
	case Medium:
		return "WARNING"
	}
	return "INFO"
}

func writeRDJSONL(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w) // one value per line, newline-terminated
	for _, f := range r.Findings {
		d := rdDiagnostic{
			Message:  message(&f),
			Location: rdLocation{Path: f.File},
			Severity: rdSeverity(f.Severity),
			Source:   rdSource{Name: toolName},
			Code:     rdCode{Value: f.ID},
		}
		if f.Line > 0 {
			rg := rdRange{Start: rdPosition{f.Line}, End: rdPosition{f.end()}}
			d.Location.Range = &rg
			if f.Suggestion != "" {
				d.Suggestions = []rdSuggestion{{Range: rg, Text: f.Suggestion}}
			}
		}
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return nil
}
