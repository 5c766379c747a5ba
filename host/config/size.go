package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

// ParseSize parses a byte size: a whole number of bytes ("2000", "2000B"),
// or a whole number with a unit, KB/MB/GB (powers of 1000) or KiB/MiB/GiB
// (powers of 1024), e.g. "512KiB", "1MiB", "120KB". Units are
// case-insensitive and may follow a space. The size must be at least 1 byte.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: want a whole number of bytes or a size like \"512KiB\"", s)
	}
	if strings.HasPrefix(t[i:], ".") {
		return 0, fmt.Errorf("invalid size %q: want a whole number; use a smaller unit (\"1536KiB\", not \"1.5MiB\")", s)
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimLeft(t[i:], " "))]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, KiB, MiB or GiB)", s, t[i:])
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	if n == 0 {
		return 0, errors.New("size must be at least 1 byte")
	}
	return n * unit, nil
}
