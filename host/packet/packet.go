// Package packet builds the source packet of a review: the unified diff of a
// git repository's changes that is sent to a provider.
//
// Invariant: a file that matches a built-in secret pattern, the root
// .relayignore or an Options.Exclude pattern, or whose lines in the diff
// (added, removed or context: all are sent) hold a credential
// (secretscan.go), contributes nothing to Packet.Diff, not even
// its name in a header. Exclusion by name is decided per path before any
// diff is produced, and git is then asked to diff only the kept paths, so
// that content is never read at all. Content is scanned as git's diff
// streams past, one file's section at a time, and a flagged section is
// dropped before anything is assembled, so its text only ever sits in the
// scanner's memory. Skipped entries carry a reason, never what matched. A
// packet is never larger than its budget, and building one never writes to
// the repository: no index refresh, no intent-to-add entries, no objects.
package packet

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Mode selects which changes a packet holds.
type Mode int

const (
	// Uncommitted (the default) is the working tree against HEAD: staged and
	// unstaged changes to tracked files, plus untracked files that are not
	// git-ignored, each shown as a new file. In a repository without commits
	// everything is new.
	Uncommitted Mode = iota
	// Staged is the index against HEAD (what `git commit` would record).
	Staged
	// Base is what the branch changes relative to BaseRef: the working tree
	// (including uncommitted and untracked files, as in Uncommitted) against
	// merge-base(BaseRef, HEAD). Commits that landed on BaseRef after the
	// branch point are not part of it. This is "what this branch would
	// change if merged now", which is what users ask a reviewer about.
	Base
)

func (m Mode) String() string {
	switch m {
	case Uncommitted:
		return "uncommitted"
	case Staged:
		return "staged"
	case Base:
		return "base"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultBudget is the packet budget when Options.Budget is 0.
const DefaultBudget = 512 << 10

// Options say where and what to build a packet from.
type Options struct {
	Dir     string   // anywhere inside the work tree; "" is the current directory
	Mode    Mode     // Uncommitted, Staged or Base
	BaseRef string   // the ref to diff against when Mode is Base; ignored otherwise
	Paths   []string // optional git pathspecs, relative to Dir as on git's command line
	Budget  int64    // maximum Diff size in bytes; <= 0 means DefaultBudget

	// Exclude are gitignore-style patterns, matched like .relayignore
	// lines at the repository root, for files to leave out (ReasonExcluded)
	// in addition to .relayignore; they come from relay.hcl. They can only
	// add exclusions: a "!" pattern is refused with CodeBadExclude, and
	// .relayignore cannot re-include what they exclude.
	Exclude []string
}

// Skip reasons. Nothing of a skipped file is sent, except for
// ReasonBinary.
const (
	ReasonRelayignore = "relayignore"    // matched .relayignore
	ReasonExcluded    = "excluded"       // matched an Options.Exclude pattern (relay.hcl)
	ReasonSecret      = "secret_pattern" // its name matched a built-in secret pattern
	// ReasonSecretContent: a line the packet would add holds a private key
	// or a credential of a well-known shape (secretscan.go), or the file
	// would show such a file's content (a rename or byte-identical copy of
	// it). "!path" in .relayignore sends a flagged file anyway.
	ReasonSecretContent = "secret_content"
	ReasonBinary        = "binary" // only git's "Binary files … differ" line is sent
)

// Skipped is a changed file whose content is not in the packet.
type Skipped struct {
	Path   string // repository-relative
	Reason string // one of the Reason constants
}

// Packet is a built source packet.
type Packet struct {
	Root    string    // work tree top level, for the host only; never persist it
	Diff    string    // the unified diff that is sent
	Files   []string  // repository-relative paths whose text diff is in Diff, sorted
	Skipped []Skipped // sorted by path
	Bytes   int64     // len(Diff)
	Hash    string    // sha256 hex of Diff
}

// change is one entry of `git diff-index --raw`.
type change struct {
	status  byte // A, D, M, T, U, R, C
	oldPath string
	path    string
	oldID   string
	newID   string // all zeros when the side is the (unhashed) working tree
}

// Build lists the changes that Options select, drops the excluded ones,
// diffs the rest and enforces the budget.
//
// Renames are detected only to apply exclusions: if either side of a rename
// is excluded, both are, so `git mv .env notes.txt` does not leak .env's
// content under the new name. For the same reason a kept file whose content
// is byte-identical to an excluded file's (a plain `mv` or `cp`, which git
// sees as delete + untracked) is excluded too. The diff itself is produced
// without rename detection, so each side appears under its own name.
//
// Only plumbing (diff-index, ls-files, rev-parse, merge-base) and
// `diff --no-index` are used: porcelain `git diff` rewrites a stat-dirty
// index even with GIT_OPTIONAL_LOCKS=0 (observed with git 2.39).
func Build(ctx context.Context, o Options) (*Packet, error) {
	if o.Mode < Uncommitted || o.Mode > Base {
		return nil, fmt.Errorf("packet: unknown mode %d", int(o.Mode))
	}
	budget := o.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	exclude, err := parseExclude(o.Exclude)
	if err != nil {
		return nil, err
	}
	b := &builder{r: &runner{env: gitEnv()}, dir: dir, o: o, budget: budget, exclude: exclude}
	p, err := b.build(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var pe *Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errorf(CodeGitFailed, err, "git is not installed or not on PATH: install git")
		}
		return nil, errorf(CodeGitFailed, err, "%v", err)
	}
	return p, nil
}

type builder struct {
	r       *runner
	dir     string // -C for commands that interpret user pathspecs
	root    string // -C for commands given repository-relative paths
	o       Options
	exclude ignoreRules // parsed Options.Exclude
	budget  int64
	base    string // commit or tree the changes are relative to
	cached  bool   // Staged: index instead of working tree
}

func (b *builder) build(ctx context.Context) (*Packet, error) {
	if err := b.findRoot(ctx); err != nil {
		return nil, err
	}
	if err := b.findBase(ctx); err != nil {
		return nil, err
	}
	b.cached = b.o.Mode == Staged

	// The three listings are independent git processes: run them at once.
	var (
		changes                 []change
		tracked                 []string
		binary                  map[string]bool
		untracked, allUntracked []string
		errs                    [3]error
		wg                      sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); changes, errs[0] = b.changes(ctx) }()
	go func() { defer wg.Done(); tracked, binary, errs[1] = b.candidates(ctx) }()
	if !b.cached {
		allUntracked, errs[2] = b.untracked(ctx, nil)
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, e // the first, as a sequential run would report it
		}
	}
	var err error
	if !b.cached {
		untracked = allUntracked
		if len(b.o.Paths) > 0 {
			if untracked, err = b.untracked(ctx, b.o.Paths); err != nil {
				return nil, err
			}
		}
	}
	rules, err := readRelayignore(b.root)
	if err != nil {
		return nil, err
	}

	// Decide every exclusion by name before anything is diffed. "!" in
	// .relayignore does not reach a built-in secret name: those names
	// (keys, keystores, .env files) hold secrets in forms no content rule
	// recognises, so there is no check a user could be overruling; renaming
	// the file is the way out. Nor does it undo an Exclude pattern:
	// relay.hcl's exclusions may only narrow a packet, and the reviewed
	// tree's own .relayignore must not widen it back.
	reasonOf := func(p string) string {
		switch {
		case isSecretPath(p):
			return ReasonSecret
		case rules.excludes(p):
			return ReasonRelayignore
		case b.exclude.excludes(p):
			return ReasonExcluded
		}
		return ""
	}
	excluded := map[string]string{}
	for _, c := range changes {
		for _, p := range []string{c.oldPath, c.path} {
			if r := reasonOf(p); r != "" {
				excluded[p] = r
			}
		}
	}
	for _, p := range allUntracked {
		if r := reasonOf(p); r != "" {
			excluded[p] = r
		}
	}
	// Either side of a rename taints the other: the old side's deletion
	// shows the same content the new side adds. A copy taints only its
	// destination; the source keeps its own (already committed) content.
	for _, c := range changes {
		if c.oldPath == c.path {
			continue
		}
		if r := excluded[c.oldPath]; r != "" && excluded[c.path] == "" {
			excluded[c.path] = r
		}
		if r := excluded[c.path]; r != "" && c.status == 'R' && excluded[c.oldPath] == "" {
			excluded[c.oldPath] = r
		}
	}
	if err := b.taintCopies(changes, tracked, untracked, excluded, nil); err != nil {
		return nil, err
	}

	// Diff what is kept, scanning it on the way. A flagged file is
	// excluded with what would show its content; when that frees room a
	// kept file's text did not get (the sections share the budget's
	// memory), the kept files are diffed again. Each round excludes
	// something new, so this ends; almost always after one.
	var sink *sectionSink
	for {
		keepTracked, keepUntracked := kept(tracked, excluded), kept(untracked, excluded)
		if sink, err = b.diffKept(ctx, keepTracked, keepUntracked, rules.reincludes); err != nil {
			return nil, err
		}
		flagged := map[string]bool{}
		for _, s := range sink.sections {
			if s.secret && excluded[s.path] == "" {
				flagged[s.path] = true
			}
		}
		if len(flagged) == 0 {
			break
		}
		if err := b.taintContent(changes, keepTracked, keepUntracked, excluded, flagged); err != nil {
			return nil, err
		}
		size, cut := keptSize(sink.sections, excluded)
		if !cut || size > b.budget {
			break
		}
	}

	pk := &Packet{Root: b.root}
	for _, p := range tracked {
		switch {
		case excluded[p] != "":
			pk.Skipped = append(pk.Skipped, Skipped{p, excluded[p]})
		case binary[p]:
			pk.Skipped = append(pk.Skipped, Skipped{p, ReasonBinary})
		default:
			pk.Files = append(pk.Files, p)
		}
	}
	untrackedBinary := map[string]bool{}
	wrote := map[string]bool{}
	for _, s := range sink.sections {
		wrote[s.path] = true
		untrackedBinary[s.path] = untrackedBinary[s.path] || s.binary
	}
	for _, p := range untracked {
		switch {
		case excluded[p] != "":
			pk.Skipped = append(pk.Skipped, Skipped{p, excluded[p]})
		case !wrote[p]: // not a file (any more)
		case untrackedBinary[p]:
			pk.Skipped = append(pk.Skipped, Skipped{p, ReasonBinary})
		default:
			pk.Files = append(pk.Files, p)
		}
	}
	sort.Strings(pk.Files)
	sort.Slice(pk.Skipped, func(i, j int) bool { return pk.Skipped[i].Path < pk.Skipped[j].Path })

	if len(pk.Files) == 0 {
		return nil, b.emptyError(pk.Skipped)
	}
	size, cut := keptSize(sink.sections, excluded)
	if err := tooLarge(size, b.budget); err != nil {
		return nil, err
	}
	if cut {
		// Within budget, every kept section fits the sink's memory, unless
		// the files changed between the rounds above.
		return nil, errors.New("the working tree changed while the packet was built: run the review again")
	}
	var diff strings.Builder
	diff.Grow(int(size))
	for _, s := range sink.sections {
		if excluded[s.path] == "" {
			diff.Write(sink.text(s))
		}
	}
	pk.Diff = diff.String()
	pk.Bytes = int64(len(pk.Diff))
	pk.Hash = hashHex(pk.Diff)
	return pk, nil
}

// CheckBudget reports source_packet_too_large when the packet is over budget
// bytes: for a caller that built it under a looser cap before it knew the
// route's budget.
func (p *Packet) CheckBudget(budget int64) error {
	if budget <= 0 {
		budget = DefaultBudget
	}
	return tooLarge(p.Bytes, budget)
}

func tooLarge(n, budget int64) error {
	if n > budget {
		return errorf(CodeSourcePacketTooLarge, nil,
			"source packet is %s, over the route budget of %s: narrow it with --path or raise budget in relay.hcl",
			formatSize(n), formatSize(budget))
	}
	return nil
}

func (b *builder) findRoot(ctx context.Context) error {
	out, err := b.r.output(ctx, b.dir, "rev-parse", "--show-toplevel")
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || ctx.Err() != nil {
			return err
		}
		return errorf(CodeNotAGitRepo, err, "%s is not inside a git work tree: run relay-host review from a git repository or pass its directory", b.dir)
	}
	b.root = strings.TrimSuffix(string(out), "\n")
	if b.root == "" {
		return errorf(CodeNotAGitRepo, nil, "%s is not inside a git work tree: run relay-host review from a git repository or pass its directory", b.dir)
	}
	return nil
}

// resolveCommit returns the object id of rev as a commit, or "" if rev does
// not name one.
func (b *builder) resolveCommit(ctx context.Context, rev string) (string, error) {
	out, err := b.r.output(ctx, b.dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	var ge *gitError
	if errors.As(err, &ge) && ge.code == 1 {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func (b *builder) findBase(ctx context.Context) error {
	head, err := b.resolveCommit(ctx, "HEAD")
	if err != nil {
		return err
	}
	if b.o.Mode != Base {
		if head == "" {
			// No commits yet: everything is new, so diff against the empty
			// tree (hash-object without -w computes its id, writes nothing).
			out, err := b.r.output(ctx, b.dir, "hash-object", "-t", "tree", "--stdin")
			if err != nil {
				return err
			}
			head = strings.TrimSpace(string(out))
		}
		b.base = head
		return nil
	}
	ref := b.o.BaseRef
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n") {
		return errorf(CodeBadBaseRef, nil, "base ref %q is not a valid ref: pass a branch, tag or commit such as --base main", ref)
	}
	refID, err := b.resolveCommit(ctx, ref)
	if err != nil {
		return err
	}
	if refID == "" {
		return errorf(CodeBadBaseRef, nil, "base ref %q does not name a commit: check the name with git branch -a, or fetch it", ref)
	}
	if head == "" {
		return errorf(CodeBadBaseRef, nil, "HEAD has no commits yet, so it has no merge base with %q: commit first or drop --base", ref)
	}
	out, err := b.r.output(ctx, b.dir, "merge-base", refID, head)
	var ge *gitError
	if errors.As(err, &ge) && ge.code == 1 {
		return errorf(CodeBadBaseRef, nil, "%q and HEAD have no common ancestor: pass the branch this one was created from", ref)
	}
	if err != nil {
		return err
	}
	b.base = strings.TrimSpace(string(out))
	return nil
}

func (b *builder) diffArgs(sub string, extra ...string) []string {
	args := []string{sub}
	args = append(args, extra...)
	args = append(args, diffFlags...)
	if b.cached {
		args = append(args, "--cached")
	}
	return append(args, b.base, "--")
}

// changes lists every change in the repository (ignoring --path), with
// rename and copy detection, so that exclusions can follow renamed files.
// Entries that are only stat-dirty may appear as M; they are harmless here.
func (b *builder) changes(ctx context.Context) ([]change, error) {
	out, err := b.r.output(ctx, b.dir, b.diffArgs("diff-index", "--raw", "-z", "--no-abbrev", "-M", "-C")...)
	if err != nil {
		return nil, err
	}
	f := splitNUL(out)
	var cs []change
	for i := 0; i < len(f); {
		meta := strings.Fields(strings.TrimPrefix(f[i], ":"))
		i++
		if len(meta) != 5 || meta[4] == "" || i >= len(f) {
			return nil, fmt.Errorf("git diff-index: unexpected output %q", f[i-1])
		}
		c := change{status: meta[4][0], oldID: meta[2], newID: meta[3], oldPath: f[i], path: f[i]}
		i++
		if c.status == 'R' || c.status == 'C' {
			if i >= len(f) {
				return nil, fmt.Errorf("git diff-index: truncated rename entry")
			}
			c.path = f[i]
			i++
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// candidates lists the tracked paths with real content or mode changes
// within --path (stat-only changes drop out because numstat compares
// content), and which of them git considers binary.
func (b *builder) candidates(ctx context.Context) ([]string, map[string]bool, error) {
	args := append(b.diffArgs("diff-index", "--numstat", "-z", "--no-renames"), b.o.Paths...)
	out, err := b.r.output(ctx, b.dir, args...)
	if err != nil {
		return nil, nil, err
	}
	var paths []string
	binary := map[string]bool{}
	for _, rec := range splitNUL(out) {
		added, rest, ok1 := strings.Cut(rec, "\t")
		deleted, p, ok2 := strings.Cut(rest, "\t")
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("git diff-index: unexpected numstat output %q", rec)
		}
		paths = append(paths, p)
		if added == "-" && deleted == "-" {
			binary[p] = true
		}
	}
	return paths, binary, nil
}

// untracked lists untracked, not git-ignored files, repository-relative,
// within pathspecs (nil: the whole work tree). Nested repositories (listed
// as "dir/") are left out: they are not files.
func (b *builder) untracked(ctx context.Context, pathspecs []string) ([]string, error) {
	if len(pathspecs) == 0 {
		pathspecs = []string{":/"}
	}
	args := append([]string{"ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--"}, pathspecs...)
	out, err := b.r.output(ctx, b.dir, args...)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range splitNUL(out) {
		if !strings.HasSuffix(p, "/") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// maxArgBytes bounds the pathspec bytes per git invocation, well under any
// platform's argument limit.
const maxArgBytes = 64 << 10

// diffTracked appends the diff of the kept tracked paths, passed as literal
// top-relative pathspecs so no name is read as a glob or option.
func (b *builder) diffTracked(ctx context.Context, out io.Writer, paths []string) error {
	for len(paths) > 0 {
		n, size := 0, 0
		for n < len(paths) && (n == 0 || size+len(paths[n]) < maxArgBytes) {
			size += len(paths[n]) + 16
			n++
		}
		args := b.diffArgs("diff-index", "-p", "--no-renames")
		for _, p := range paths[:n] {
			args = append(args, ":(top,literal)"+p)
		}
		if err := b.r.run(ctx, b.dir, out, args); err != nil {
			return err
		}
		paths = paths[n:]
	}
	return nil
}

// diffUntracked appends an untracked file's new-file diff, made with
// `git diff --no-index /dev/null <path>`, which reads no index at all.
// Symlinks are shown as their target text, never followed; anything that is
// not a regular file or symlink is left out.
func (b *builder) diffUntracked(ctx context.Context, out io.Writer, p string) error {
	fi, err := os.Lstat(filepath.Join(b.root, filepath.FromSlash(p)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed since it was listed
		}
		return err
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	args := append([]string{"diff", "--no-index"}, diffFlags...)
	args = append(args, "--", os.DevNull, p)
	return b.r.run(ctx, b.root, out, args, 1)
}

// diffKept diffs the kept tracked and untracked paths, in that order, into
// sections whose lines have been scanned. waived names the files
// whose content hits are overruled (kept, text and all).
func (b *builder) diffKept(ctx context.Context, tracked, untracked []string, waived func(string) bool) (*sectionSink, error) {
	sink := newSectionSink(b.budget)
	sink.waived = waived
	if err := b.diffTracked(ctx, sink, tracked); err != nil {
		return nil, err
	}
	if err := sink.finish(); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(tracked))
	for _, p := range tracked {
		want[p] = true
	}
	for _, s := range sink.sections {
		if !want[s.path] {
			return nil, errors.New("git diff-index: a file header names a path that was not asked for")
		}
	}
	for _, p := range untracked {
		sink.path = p
		if err := b.diffUntracked(ctx, sink, p); err != nil {
			return nil, err
		}
		if err := sink.finish(); err != nil {
			return nil, err
		}
	}
	return sink, nil
}

// kept is paths without the excluded ones.
func kept(paths []string, excluded map[string]string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if excluded[p] == "" {
			out = append(out, p)
		}
	}
	return out
}

// keptSize is the size of the kept sections' diff, and whether any of them
// lacks part of its text.
func keptSize(sections []*section, excluded map[string]string) (size int64, cut bool) {
	for _, s := range sections {
		if excluded[s.path] == "" {
			size += s.n
			cut = cut || !s.complete()
		}
	}
	return size, cut
}

// taintContent excludes the flagged files (ReasonSecretContent) and what
// would show their content: the old side of a rename, whose deletion lists
// the same lines, and kept files byte-identical to a flagged file's new
// content (a plain mv or cp git cannot pair). Only the new side seeds the
// copy check: a modified file's old content is not what was flagged.
func (b *builder) taintContent(changes []change, tracked, untracked []string, excluded map[string]string, flagged map[string]bool) error {
	content := map[string]string{}
	for p := range flagged {
		content[p] = ReasonSecretContent
	}
	var others []string
	for _, p := range slices.Concat(tracked, untracked) {
		if !flagged[p] {
			others = append(others, p)
		}
	}
	if err := b.taintCopies(changes, others, nil, content, flagged); err != nil {
		return err
	}
	for _, c := range changes {
		if c.status == 'R' && flagged[c.path] && excluded[c.oldPath] == "" {
			content[c.oldPath] = ReasonSecretContent
		}
	}
	for p, r := range content {
		excluded[p] = r
	}
	return nil
}

// taintCopies excludes kept files whose content, on either side of the
// change, is byte-identical to an excluded file's: the rename or copy of a
// secret that git's rename detection cannot see (an untracked file, or a
// copy whose source did not change). Working-tree content is hashed here as
// a git blob id without filters, which is exact for the common case and
// writes nothing. For the excluded paths in newOnly only the new side
// (index or working tree) counts as theirs.
func (b *builder) taintCopies(changes []change, tracked, untracked []string, excluded map[string]string, newOnly map[string]bool) error {
	if len(excluded) == 0 {
		return nil
	}
	sha256Repo := len(b.base) == 64
	byPath := map[string]change{}
	for _, c := range changes {
		byPath[c.path] = c
	}
	for _, c := range changes {
		if _, ok := byPath[c.oldPath]; !ok {
			// The source side of a rename or copy: only its old content.
			byPath[c.oldPath] = change{status: 'D', oldPath: c.oldPath, path: c.oldPath, oldID: c.oldID}
		}
	}
	empty := blobID(nil, sha256Repo)
	ids := func(p string, newOnly bool) ([]string, error) {
		var out []string
		add := func(id string) {
			if id != "" && id != empty && strings.Trim(id, "0") != "" {
				out = append(out, id)
			}
		}
		c, isTracked := byPath[p]
		if !newOnly {
			add(c.oldID)
		}
		add(c.newID)
		// The working-tree side has no id in diff-index output (all zeros)
		// unless the file matches the index; untracked files have none.
		if !b.cached && (!isTracked || (c.status != 'D' && strings.Trim(c.newID, "0") == "")) {
			id, err := fileBlobID(filepath.Join(b.root, filepath.FromSlash(p)), sha256Repo)
			if err != nil {
				return nil, err
			}
			add(id)
		}
		return out, nil
	}

	secretIDs := map[string]string{}
	for p, r := range excluded {
		list, err := ids(p, newOnly[p])
		if err != nil {
			return err
		}
		for _, id := range list {
			if secretIDs[id] != ReasonSecret {
				secretIDs[id] = r
			}
		}
	}
	if len(secretIDs) == 0 {
		return nil
	}
	for _, p := range slices.Concat(tracked, untracked) {
		if excluded[p] != "" {
			continue
		}
		list, err := ids(p, false)
		if err != nil {
			return err
		}
		for _, id := range list {
			if r := secretIDs[id]; r != "" {
				excluded[p] = r
				break
			}
		}
	}
	return nil
}

// fileBlobID is the git blob id of a working-tree file (a symlink's target
// text for a symlink), or "" if it is missing or not a file. The content is
// streamed, so a huge file costs no memory.
func fileBlobID(name string, sha256Repo bool) (string, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	newHash := sha1.New
	if sha256Repo {
		newHash = sha256.New
	}
	h := newHash()
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "blob %d\x00%s", len(target), target)
	case fi.Mode().IsRegular():
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if fi, err = f.Stat(); err != nil {
			return "", err
		}
		fmt.Fprintf(h, "blob %d\x00", fi.Size())
		if _, err := io.Copy(h, io.LimitReader(f, fi.Size())); err != nil {
			return "", err
		}
	default:
		return "", nil
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func blobID(data []byte, sha256Repo bool) string {
	newHash := sha1.New
	if sha256Repo {
		newHash = sha256.New
	}
	h := newHash()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func readRelayignore(root string) (ignoreRules, error) {
	name := filepath.Join(root, ".relayignore")
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf(CodeBadRelayignore, err, "cannot read .relayignore: %v: fix its permissions or remove it", unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil || len(data) > 1<<20 {
		return nil, errorf(CodeBadRelayignore, err, "cannot read .relayignore: it must be a text file under 1 MiB: fix or remove it")
	}
	return parseIgnore(string(data)), nil
}

func (b *builder) emptyError(skipped []Skipped) error {
	where := ""
	if len(b.o.Paths) > 0 {
		where = " under the given --path filters"
	}
	if len(skipped) > 0 {
		reasons := []string{}
		for _, s := range skipped {
			if !slices.Contains(reasons, s.Reason) {
				reasons = append(reasons, s.Reason)
			}
		}
		return errorf(CodeEmptyPacket, nil, "nothing to review: all %d changed files%s were skipped (%s): edit .relayignore or widen --path",
			len(skipped), where, strings.Join(reasons, ", "))
	}
	switch b.o.Mode {
	case Staged:
		return errorf(CodeEmptyPacket, nil, "nothing to review: nothing is staged%s: git add the changes or drop --staged", where)
	case Base:
		return errorf(CodeEmptyPacket, nil, "nothing to review: no changes since the merge base with %s%s: check --base", b.o.BaseRef, where)
	}
	return errorf(CodeEmptyPacket, nil, "nothing to review: no uncommitted changes%s: use --staged or --base REF to review committed work", where)
}

func formatSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
