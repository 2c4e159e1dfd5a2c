package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClusterConfig configures a node of several `duban serve` on one
// PostgreSQL database (SPEC §14): the node's name and the leader lease.
// With a bbolt file it is not used.
type ClusterConfig struct {
	// Node names this node in the leader lease, `duban status` and the
	// mail it sends; "" means <hostname>:<pid> (NodeName).
	Node string `mapstructure:"node"`
	// LeaseTTL is how long a leader's lease lasts without renewal; a
	// standby takes over after it (SPEC §14: 15s).
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// Renew is how often the leader renews its lease, at most LeaseTTL/3.
	Renew time.Duration `mapstructure:"renew"`
}

// NodeName returns Node, or <hostname>:<pid> of this process when Node is
// "" (characters outside letters, digits and ._:@- become '-').
func (c ClusterConfig) NodeName() string {
	if c.Node != "" {
		return c.Node
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.Map(func(r rune) rune {
		if nodeRune(r) {
			return r
		}
		return '-'
	}, host)
	return host + ":" + strconv.Itoa(os.Getpid())
}

// nodeRune reports whether r may appear in a node name: it is written in
// mail headers (X-Duban-Node), so ASCII letters, digits and ._:@- only.
func nodeRune(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || strings.ContainsRune("._:@-", r)
}

// MaxNodeName is the longest cluster.node accepted.
const MaxNodeName = 100

// validate checks the cluster keys: a node name fit for a mail header,
// a lease of at least a second, renewed at least three times within it.
func (c ClusterConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ValidationError{Key: key, Err: fmt.Errorf(format, args...)})
	}
	if n := c.Node; n != "" && (len(n) > MaxNodeName || strings.IndexFunc(n, func(r rune) bool { return !nodeRune(r) }) >= 0) {
		bad("cluster.node", "must be up to %d ASCII letters, digits and . _ : @ -, such as duban-1, or \"\" for <hostname>:<pid> (got %q)", MaxNodeName, n)
	}
	if c.LeaseTTL < time.Second {
		bad("cluster.lease_ttl", "must be at least 1s, such as 15s (got %s)", c.LeaseTTL)
	} else if c.Renew <= 0 || c.Renew > c.LeaseTTL/3 {
		bad("cluster.renew", "must be more than 0 and at most a third of cluster.lease_ttl (%s), such as 5s (got %s)", c.LeaseTTL, c.Renew)
	}
	return errs
}
