package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/daemon"
	"duban/notify"
)

// errRobotRefused is a test message the vendor did not accept (exit 1).
var errRobotRefused = fmt.Errorf("群机器人未接受测试消息")

func (a *app) robotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "robot",
		Short: "work-group robots (钉钉, 企业微信/政务微信, 飞书): test the configured ones",
		Args:  cobra.NoArgs,
	}
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "post one test message through robot NAME and explain the vendor's answer",
		Args:  wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.loadConfig(); err != nil {
				return err
			}
			name := args[0]
			r := daemon.NewRobot(a.cfg, name, nil)
			if r == nil {
				var names []string
				for n := range a.cfg.Robots {
					names = append(names, n)
				}
				slices.Sort(names)
				known := "配置中没有任何群机器人"
				if len(names) > 0 {
					known = "已配置：" + strings.Join(names, "、")
				}
				return fmt.Errorf("%w: 没有名为 %s 的群机器人（robots.%s）；%s", errBadUsage, name, name, known)
			}
			office := "督查室"
			if from, err := notify.ParseAddress(a.cfg.Mail.From); err == nil && from.Name != "" {
				office = from.Name
			}
			msgs, err := r.Messages(notify.RobotDigest{Test: true, OfficeName: office, Generated: time.Now().In(a.cfg.Location)})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			head := fmt.Sprintf("群机器人 %s（%s，%s）", name, notify.VendorName(r.Kind), notify.MaskURL(r.URL))
			if err := r.Send(ctx, msgs[0]); err != nil {
				fmt.Fprintf(a.stdout, "%s：测试消息未送达。\n%s\n", head, notify.Explain(name, err))
				return errRobotRefused
			}
			fmt.Fprintf(a.stdout, "%s：测试消息已送达，请在群里查看。\n", head)
			return nil
		},
	}
	cmd.AddCommand(test)
	return cmd
}
