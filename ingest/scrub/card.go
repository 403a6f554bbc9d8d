package scrub

import "strings"

// A card number is 13 to 19 digits, may be written in groups separated by
// single spaces or dashes, starts with a card network's prefix and ends
// with a Luhn check digit. The prefix check keeps millisecond timestamps
// and other long numbers that happen to pass Luhn (one in ten does) out.

const (
	minCardDigits = 13
	maxCardDigits = 19
)

// isCard reports whether digits (only '0'-'9') is a plausible card number.
func isCard(digits string) bool {
	n := len(digits)
	return n >= minCardDigits && n <= maxCardDigits && hasCardPrefix(digits) && luhn(digits)
}

func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// hasCardPrefix checks the issuer identification ranges of Visa,
// Mastercard, American Express, Discover, JCB, Diners Club and UnionPay.
func hasCardPrefix(d string) bool {
	p2 := atoi(d[:2])
	p3 := atoi(d[:3])
	p4 := atoi(d[:4])
	switch {
	case d[0] == '4': // Visa
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return true
	case p2 == 34 || p2 == 37: // American Express
		return true
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65: // Discover
		return true
	case p4 >= 3528 && p4 <= 3589: // JCB
		return true
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return true
	case p2 == 62: // UnionPay
		return true
	}
	return false
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// digitsOnlyCard reports whether s, a JSON number's text, is a card number.
func digitsOnlyCard(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return isCard(s)
}

// group is one run of digits inside a number written in groups.
type group struct{ start, end int }

// scrubCards replaces card numbers inside v by Filtered. A number must
// stand alone (no letter or digit right before or after it), and may be a
// prefix of a longer run of groups ("4111 1111 1111 1111 2030" holds a
// card followed by a year).
func scrubCards(v string) (string, bool) {
	// Fast path: no run of 13 digits or more, ignoring separators, can
	// exist in a string with fewer digits than that.
	count := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			count++
		}
	}
	if count < minCardDigits {
		return v, false
	}
	var out strings.Builder
	changed := false
	last := 0
	var groups []group
	var digits []byte
	for i := 0; i < len(v); {
		if !isDigit(v[i]) || (i > 0 && isWordByte(v[i-1])) {
			i++
			continue
		}
		// Collect the run of groups starting at i.
		groups = groups[:0]
		j := i
		for {
			s := j
			for j < len(v) && isDigit(v[j]) {
				j++
			}
			groups = append(groups, group{s, j})
			if j+1 < len(v) && (v[j] == ' ' || v[j] == '-') && isDigit(v[j+1]) {
				j++
				continue
			}
			break
		}
		runEnd := j
		matched := false
		for a := 0; a < len(groups) && !matched; a++ {
			digits = digits[:0]
			for b := a; b < len(groups); b++ {
				digits = append(digits, v[groups[b].start:groups[b].end]...)
				if len(digits) > maxCardDigits {
					break
				}
				end := groups[b].end
				if end < len(v) && isWordByte(v[end]) {
					continue
				}
				if isCard(string(digits)) {
					out.WriteString(v[last:groups[a].start])
					out.WriteString(Filtered)
					last, i = end, end
					changed, matched = true, true
					break
				}
			}
		}
		if !matched {
			i = runEnd
		}
	}
	if !changed {
		return v, false
	}
	out.WriteString(v[last:])
	return out.String(), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
