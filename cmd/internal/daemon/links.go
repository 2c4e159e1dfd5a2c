package daemon

import (
	"time"

	"duban/cmd/internal/unitlink"
	"duban/tracker"
)

// personalLink returns the recipient's personal link (SPEC §11) for the
// instances of group, or "" when the workspace is off or the mail names
// no instance (a failure report).
func (d *Daemon) personalLink(group []*tracker.Delivery, now time.Time) (string, error) {
	base := d.cfg.Web.LinkBase()
	if base == "" {
		return "", nil
	}
	var ids []string
	seen := make(map[string]bool)
	for _, dl := range group {
		if dl.Instance == "" || dl.Level == LevelFailure || seen[dl.Instance] {
			continue
		}
		seen[dl.Instance] = true
		ids = append(ids, dl.Instance)
	}
	if len(ids) == 0 {
		return "", nil
	}
	secret, err := unitlink.Secret(d.store)
	if err != nil {
		return "", err
	}
	return unitlink.URL(base, secret, unitlink.Token{To: group[0].To, Instances: ids, Issued: now.Unix()}), nil
}
