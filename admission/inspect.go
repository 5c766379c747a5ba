package admission

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission/procid"
)

// KeyStatus is one key's view for `relay-host admission status`.
type KeyStatus struct {
	Slug     string `json:"key"`
	Capacity `json:"capacity"`
	Waiting  int `json:"waiting"`
	// Cooldown is the key's cooldown record as stored (see
	// Cooldown.Active); status shows its reason and what remains, clean
	// resets a corrupt one.
	Cooldown Cooldown   `json:"-"`
	Slots    []SlotInfo `json:"-"`
}

// SlotInfo describes one slot for the operator's terminal. It holds holder
// identity and must never be persisted or sent anywhere else.
type SlotInfo struct {
	Index  int
	State  string // free | alive | dead | unverifiable | foreign | corrupt
	Detail string
	Holder procid.Holder
	Limit  int
}

// inspect is the semaphore's inspect for the key dir slug.
func (l *Local) inspect(ctx context.Context, slug string, reset bool) (KeyStatus, []int, error) {
	s, err := l.sem(slug)
	if err != nil {
		return KeyStatus{}, nil, err
	}
	return s.inspect(ctx, reset)
}

// StatusAll reports every key under the lock root, sorted by key.
func (l *Local) StatusAll(ctx context.Context, withSlots bool) ([]KeyStatus, error) {
	slugs, err := l.slugs()
	if err != nil {
		return nil, err
	}
	var out []KeyStatus
	for _, slug := range slugs {
		st, _, err := l.inspect(ctx, slug, false)
		if err != nil {
			return out, err
		}
		if !withSlots {
			st.Slots = nil
		}
		out = append(out, st)
	}
	return out, nil
}

// Clean resets slots that fail closed and that no live process holds:
// corrupt records and unverifiable holders whose boot id cannot prove a
// reboot; and a corrupt cooldown record, which it clears (a key it reports
// for that alone has no Slots and Cooldown.Reason CooldownCorrupt). With
// dryRun it only reports them. key "" means every key.
func (l *Local) Clean(ctx context.Context, key string, dryRun bool) ([]KeyStatus, error) {
	var slugs []string
	if key != "" {
		slugs = []string{KeySlug(key)}
	} else {
		var err error
		if slugs, err = l.slugs(); err != nil {
			return nil, err
		}
	}
	var out []KeyStatus
	for _, slug := range slugs {
		st, stuck, err := l.inspect(ctx, slug, !dryRun)
		if err != nil {
			return out, err
		}
		var bad []SlotInfo
		for _, i := range stuck {
			bad = append(bad, st.Slots[i])
		}
		if len(bad) > 0 || st.Cooldown.Reason == CooldownCorrupt {
			st.Slots = bad
			out = append(out, st)
		}
	}
	return out, nil
}

func (l *Local) slugs() ([]string, error) {
	ents, err := os.ReadDir(l.root)
	if err != nil {
		return nil, fmt.Errorf("admission: list lock root: %w", err)
	}
	var slugs []string
	for _, e := range ents {
		if e.IsDir() {
			slugs = append(slugs, e.Name())
		}
	}
	sort.Strings(slugs)
	return slugs, nil
}

// inspect judges every slot under the gate, as acquire does, and returns the
// indexes of the stuck ones (see verdict.stuck). With reset, those are
// rewritten free, and stray temp files (only ever left by a creator killed
// mid-create) are removed.
func (s *semaphore) inspect(ctx context.Context, reset bool) (st KeyStatus, stuck []int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.lockGate(ctx); err != nil {
		return KeyStatus{}, nil, err
	}
	defer s.unlockGate()
	if err := s.refresh(); err != nil {
		return KeyStatus{}, nil, err
	}
	st.Slug = s.dir[strings.LastIndexByte(s.dir, '/')+1:]
	// The limit in force: the lowest any live holder recorded, as acquire
	// would see it (bound); with none known, the most recent acquire's.
	lowest := 0
	for i := range s.slots {
		l := &s.slots[i]
		si := SlotInfo{Index: i}
		held := l.mine
		if !held {
			var err error
			if held, err = probe(l, s.dir); err != nil {
				return st, nil, err
			}
		}
		if held {
			hl, err := s.holderLimit(i)
			if err != nil {
				return st, nil, err
			}
			if hl > 0 && (lowest == 0 || hl < lowest) {
				lowest = hl
			}
		}
		r, rerr := s.readRecord(l.fd)
		v := s.judge(held, r, rerr)
		si.State, si.Detail, si.Holder, si.Limit = string(v.state), v.detail, r.holder(), r.Limit
		if !v.reusable() {
			st.ActiveCount++
		}
		if v.stuck(r) {
			stuck = append(stuck, i)
			if reset {
				free := record{V: recordVersion, State: stateFree, LockBacked: true}
				if err := s.writeRecord(l.fd, &free); err != nil {
					unix.Flock(l.fd, unix.LOCK_UN)
					return st, nil, err
				}
			}
		}
		if !held {
			unix.Flock(l.fd, unix.LOCK_UN)
		}
		st.Slots = append(st.Slots, si)
	}
	st.Limit = int(s.hdr.limit)
	if lowest > 0 {
		st.Limit = lowest
	}
	for i := range s.waits {
		l := &s.waits[i]
		held := l.mine
		if !held {
			var err error
			if held, err = probe(l, s.dir); err != nil {
				return st, nil, err
			}
			if !held {
				unix.Flock(l.fd, unix.LOCK_UN)
			}
		}
		if held {
			st.Waiting++
		}
	}
	st.Cooldown = s.readCooldown()
	if reset && st.Cooldown.Reason == CooldownCorrupt {
		if err := s.writeCooldown(Cooldown{}); err != nil {
			return st, nil, err
		}
	}
	if reset {
		ents, _ := os.ReadDir(s.dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				unix.Unlinkat(s.dirfd, e.Name(), 0)
			}
		}
	}
	return st, stuck, nil
}
