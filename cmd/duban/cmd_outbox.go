package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/daemon"
	"duban/tracker"
)

func (a *app) outboxCommand() *cobra.Command {
	var failed, all bool
	var format string
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "notices queued, sent and failed (default: queued and failed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json", "csv"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			rw := newRowWriter(a.stdout, format, []string{"状态", "计划时间", "通知", "级别", "收件人", "尝试", "说明"})
			var stat *status
			err = st.View(func(tx tracker.Tx) error {
				if stat, err = loadStatus(tx); err != nil {
					return err
				}
				return tx.Deliveries(func(d *tracker.Delivery) error {
					switch {
					case failed && d.State != tracker.DeliveryFailed:
						return nil
					case !failed && !all && d.State != tracker.DeliveryQueued && d.State != tracker.DeliveryFailed:
						return nil
					}
					note := d.LastError
					switch {
					case d.State == tracker.DeliverySuperseded:
						note = "已由同一事项更紧急的通知 " + d.SupersededBy + " 取代"
					case d.Level == tracker.LevelCorrection && note == "":
						note = "更正：办理时限已调整"
					case d.Late && note == "":
						note = "补发"
					}
					return rw.Row(outboxRow{d, d.At.In(a.cfg.Location)}, []string{deliveryStateLabel(d.State), d.At.In(a.cfg.Location).Format("2006-01-02 15:04"),
						d.Notice, levelLabel(d.Level), recipientLabel(d.To), strconv.Itoa(d.Attempts), note})
				})
			})
			if err != nil {
				return err
			}
			if err := rw.Close(); err != nil {
				return err
			}
			if format == "table" {
				fmt.Fprintln(a.stdout, stat.summary(a.cfg.Location))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&failed, "failed", false, "only permanently failed deliveries")
	cmd.Flags().BoolVar(&all, "all", false, "also sent and skipped deliveries")
	cmd.Flags().StringVar(&format, "format", "table", "table|json|csv")
	return cmd
}

// recipientLabel shows a delivery's recipient in tables: an address, or
// 群机器人 <name> for a work-group robot (JSON keeps robot:<name>).
func recipientLabel(to string) string {
	if name, ok := tracker.RobotRecipient(to); ok {
		return "群机器人 " + name
	}
	return to
}

// outboxRow is a delivery with its time in the configured zone.
type outboxRow struct {
	*tracker.Delivery
	At time.Time `json:"at"`
}

// status is the daemon's last pass (daemon.Status), with the CLI's
// status line.
type status daemon.Status

// loadStatus reads the daemon's last pass summary (nil if it never ran).
func loadStatus(tx tracker.Tx) (*status, error) {
	st, err := daemon.LoadStatus(tx)
	return (*status)(st), err
}

func (st *status) summary(loc *time.Location) string { return (*daemon.Status)(st).Summary(loc) }
