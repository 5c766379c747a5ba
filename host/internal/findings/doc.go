// Package findings turns the text of one or more reviews of one packet into
// structured findings, merged with attribution, and writes them for people
// (text, markdown) and for CI (json, SARIF 2.1.0, reviewdog's rdjsonl,
// GitHub Actions workflow commands). It knows no provider: a review is its
// text, or why it failed.
//
// The pipeline, as the review fan-out uses it:
//
//	d := findings.FromPacket(pkt)                 // files and hunk ranges of the diff
//	res := findings.Collect(reviews, d, findings.ValidateOptions{OnlyChanged: format.CI()})
//	findings.Write(os.Stdout, res, format, findings.WriteOptions{ToolVersion: version})
//	if reasons := res.Triggered(failOn); len(reasons) > 0 { /* exit 1 */ }
//
// Collect is Parse (the findings block of each review), Validate (against
// the diff) and Merge; each is usable alone.
//
// Invariants:
//   - Parse never fails and never panics (FuzzParse): a review without a
//     usable block still counts, with its verdict and prose, zero findings
//     and the note findings_unparsed.
//   - Nothing a reviewer reported is dropped. A finding on a file not in
//     the diff, or with no file, is an "other remark"; lines outside the
//     hunks are kept and flagged outside_diff (with OnlyChanged, the
//     finding moves to the other remarks instead; lines overlapping a hunk
//     are clamped to it).
//   - Merge is a union with attribution, never a vote: findings of
//     different reviewers on the same file, at lines at most 3 apart, with
//     similar titles (word-set Jaccard index ≥ 0.4, see Similar) become one
//     finding found_by all of them at the highest severity any gave, every
//     reviewer's own version kept in Reports; all others keep their single
//     author. A reviewer's own findings are never merged with each other.
//   - The verdict is request_changes when any reviewer requested changes,
//     and names who did. Failed reviewers are listed, one line each, and
//     never counted as approving.
//   - A finding's id (ID) depends only on its path, its title with
//     severity, case, punctuation and spacing normalised away, and its
//     line bucket ((line-1)/10), so a re-run, or another reviewer, gives
//     the same issue the same id.
//
// The SARIF choice (one run, found_by per result) is explained in sarif.go.
package findings
