package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"duban/cmd/internal/unitlink"
	"duban/tracker"
)

// linkCommand builds `link rotate`: a new secret for the units' personal
// links (SPEC §11); every link mailed before stops working.
func (a *app) linkCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "link", Short: "the units' personal links (个人办理链接)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "replace the links' signing secret: every link mailed before stops working",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			if err := st.Update(func(tx tracker.Tx) error { return unitlink.Rotate(tx) }); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "已更换个人办理链接的签名密钥：此前邮件中的链接均已失效，此后的通知带新链接。")
			return nil
		},
	})
	return cmd
}
