package trackfile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// WithRobots gives Load the work-group robots the configuration defines
// (SPEC §13): a unit's or the office's robot: must name one of them.
// Without it no robot is known, and every robot: is an error.
func WithRobots(names []string) Option {
	return func(l *loader) {
		l.robots = make(map[string]bool, len(names))
		for _, n := range names {
			l.robots[strings.ToLower(n)] = true
		}
	}
}

// robotRef reads an optional robot name and checks that the
// configuration defines it.
func (f *fileCtx) robotRef(fs *fieldSet, idx int, path string) string {
	s := f.opt(fs, idx, path, "robot")
	if s == "" {
		return ""
	}
	if !f.l.robots[strings.ToLower(s)] {
		known := "the configuration defines no robots (add robots: {" + s + ": {kind: …, url: …}})"
		if len(f.l.robots) > 0 {
			names := make([]string, 0, len(f.l.robots))
			for n := range f.l.robots {
				names = append(names, n)
			}
			slices.Sort(names)
			known = "the configuration's robots are " + strings.Join(names, ", ")
		}
		f.errf(fs.v[idx].Line, join(path, "robot"), fmt.Sprintf("%s is not a robot in the configuration: %s", q(s), known))
	}
	return s
}

var mobileRE = regexp.MustCompile(`^\+?[0-9][0-9-]{4,19}$`)

// imFields reads a person's mobile (for @ on 钉钉) and im_id (the 飞书
// user id or 企业微信 userid).
func (f *fileCtx) imFields(fs *fieldSet, mobileIdx, imIdx int, path string) (mobile, imID string) {
	if mobile = f.opt(fs, mobileIdx, path, "mobile"); mobile != "" && !mobileRE.MatchString(mobile) {
		f.errf(fs.v[mobileIdx].Line, join(path, "mobile"), fmt.Sprintf("%s is not a mobile number: write digits, e.g. \"13800000001\" (quoted)", q(mobile)))
	}
	if imID = f.opt(fs, imIdx, path, "im_id"); imID != "" {
		f.oneLine(imID, fs.v[imIdx], path, "im_id")
	}
	return mobile, imID
}
