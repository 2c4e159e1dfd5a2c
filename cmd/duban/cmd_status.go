package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"duban/cmd/internal/daemon"
	"duban/tracker/kvstore"
)

func (a *app) statusCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "this node, the store, the leader (term, lease expiry) and the daemon's last pass",
		Long: `Show this node's name (cluster.node), the store (a bbolt file: one node;
PostgreSQL: several nodes, one leader), the node holding the leader lease with
its term and the lease's expiry by the database's clock, and the daemon's last
pass. Run where a daemon answers on admin.socket, it shows that daemon's view.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			var cs *daemon.ClusterStatus
			if a.running != nil {
				cs, err = a.running.ClusterStatus(cmd.Context())
			} else {
				ks, ok := st.(*kvstore.Store)
				if !ok {
					return errors.New("status: the store is not a duban database")
				}
				cs, err = daemon.ReadClusterStatus(cmd.Context(), ks, offlineNode(a.cfg.Cluster.Node))
			}
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(cs)
			}
			lines := cs.Lines(a.cfg.Location)
			width := 0
			for _, l := range lines {
				width = max(width, utf8.RuneCountInString(l[0]))
			}
			for _, l := range lines {
				fmt.Fprintf(a.stdout, "%s%s  %s\n", l[0], strings.Repeat("　", width-utf8.RuneCountInString(l[0])), l[1])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table|json")
	return cmd
}

// offlineNode is this machine's node name for a command run without a
// daemon: cluster.node, or the host name (a daemon adds its pid).
func offlineNode(configured string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "localhost"
	}
	return host
}
