package findings

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"
)

// SARIF output: one run, tool relay-host, for all reviewers, with each
// result's reviewers in properties.found_by. One run rather than one per
// reviewer because a merged finding is one issue: in a run per reviewer
// it would be listed once per reviewer who saw it, and GitHub code
// scanning would show it as that many alerts (and refuses several runs of
// one tool and category in an upload). Each result's ruleId is the
// finding's stable id (a rule per finding, its title the rule's short
// description) and partialFingerprints["relayFindingId/v1"] repeats it,
// so code scanning matches the finding across runs. Level: high → error,
// medium → warning, low and info → note. The reviewers (name, model,
// verdict) are in the run's properties; a failed reviewer is an error
// notification of the invocation, which is then not successful.

const (
	sarifSchema      = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifFingerprint = "relayFindingId/v1"
	toolName         = "relay-host"
	toolURI          = "https://github.com/relay-host/relay-host" // the module's home
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string       `json:"level"`
	Message sarifMessage `json:"message"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          sarifProperties   `json:"properties"`
}

type sarifProperties struct {
	Severity    string   `json:"severity"`
	FoundBy     []string `json:"found_by"`
	OutsideDiff bool     `json:"outside_diff,omitempty"`
	Suggestion  string   `json:"suggestion,omitempty"`
}

type sarifLocation struct {
	Physical sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine"`
}

func sarifLevel(s Severity) string {
	switch s {
	case High:
		return "error"
	case Medium:
		return "warning"
	}
	return "note"
}

func writeSARIF(w io.Writer, r *Result, o WriteOptions) error {
	run := sarifRun{
		Tool:        sarifTool{Driver: sarifDriver{Name: toolName, Version: cmpOr(o.ToolVersion, "dev"), InformationURI: toolURI, Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: len(r.Failures) == 0}},
		Results:     []sarifResult{},
	}
	for _, f := range r.Failures {
		run.Invocations[0].Notifications = append(run.Invocations[0].Notifications, sarifNotification{
			Level: "error", Message: sarifMessage{Text: "reviewer " + f.Reviewer + " failed: " + f.Reason},
		})
	}
	reviewers := make([]map[string]string, 0, len(r.Reviewers))
	for _, rv := range r.Reviewers {
		m := map[string]string{"name": rv.Name, "verdict": rv.Verdict}
		if rv.Model != "" {
			m["model"] = rv.Model
		}
		reviewers = append(reviewers, m)
	}
	run.Properties = map[string]any{"verdict": r.Verdict, "reviewers": reviewers}
	rules := map[string]int{}
	for _, f := range r.Findings {
		idx, ok := rules[f.ID]
		if !ok {
			idx = len(run.Tool.Driver.Rules)
			rules[f.ID] = idx
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: f.ID, ShortDescription: sarifMessage{Text: f.Title}})
		}
		loc := sarifLocation{Physical: sarifPhysical{Artifact: sarifArtifact{URI: fileURI(f.File), URIBaseID: "%SRCROOT%"}}}
		if f.Line > 0 {
			loc.Physical.Region = &sarifRegion{StartLine: f.Line, EndLine: f.end()}
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: f.ID, RuleIndex: idx, Level: sarifLevel(f.Severity),
			Message:             sarifMessage{Text: message(&f)},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{sarifFingerprint: f.ID},
			Properties: sarifProperties{
				Severity: f.Severity.String(), FoundBy: f.FoundBy,
				OutsideDiff: f.OutsideDiff, Suggestion: f.Suggestion,
			},
		})
	}
	// Not indented: it is read by programs, and indenting costs a fifth
	// of the time (BenchmarkCollectSARIF).
	return json.NewEncoder(w).Encode(sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

// fileURI is a repository-relative path as a relative URI reference:
// percent-encoded, and "./"-prefixed when its first segment would read
// as a scheme.
func fileURI(p string) string { return (&url.URL{Path: p}).String() }

// message is a finding's text for the CI formats: the title, the body,
// and who found it.
func message(f *Finding) string {
	var b strings.Builder
	b.WriteString(f.Title)
	if f.Body != "" {
		b.WriteString("\n\n" + f.Body)
	}
	b.WriteString("\n\nfound by " + strings.Join(f.FoundBy, ", "))
	return b.String()
}
