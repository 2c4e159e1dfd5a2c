package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"duban/cmd/internal/account"
	"duban/tracker"
)

// userCommand is `duban user add|list|passwd|remove|token`: the
// workspace's accounts and API tokens (SPEC §8, §10).
func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "workspace accounts and API tokens (add, list, passwd, remove, token)",
	}
	var role, unit, person string
	var fromStdin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "add an account; without --password-stdin a random password is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return fmt.Errorf("%w: user add needs --role %s", errBadUsage, roleHelp())
			}
			pw, generated, err := a.password(fromStdin)
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			err = st.Update(func(tx tracker.Tx) error {
				_, err := account.Add(tx, account.Spec{Name: args[0], Role: tracker.Role(role), Unit: unit, Person: person, Password: pw}, a.wallClock())
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "已添加账户 %s（%s）\n", args[0], tracker.Role(role).Label())
			if generated {
				fmt.Fprintf(a.stdout, "初始密码（只显示这一次）：%s\n", pw)
			}
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", roleHelp())
	add.Flags().StringVar(&unit, "unit", "", "role unit: the unit's id")
	add.Flags().StringVar(&person, "person", "", "role leader: the person's id (the units they lead are visible)")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")

	list := &cobra.Command{
		Use:   "list",
		Short: "list the accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "账户\t角色\t单位/人员\t创建时间")
			n := 0
			err = st.View(func(tx tracker.Tx) error {
				at, err := tracker.Accounts(tx)
				if err != nil {
					return err
				}
				return at.Accounts(func(ac *tracker.Account) error {
					n++
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ac.Name, ac.Role.Label(), ac.Unit+ac.Person,
						ac.Created.In(a.cfg.Location).Format("2006-01-02 15:04"))
					return nil
				})
			})
			if err != nil {
				return err
			}
			if n == 0 {
				fmt.Fprintln(a.stdout, "(none)")
				return nil
			}
			return tw.Flush()
		},
	}
	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "set a new password (random, printed once, without --password-stdin); ends the account's sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := a.password(passwdStdin)
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			if err := st.Update(func(tx tracker.Tx) error { return account.SetPassword(tx, args[0], pw) }); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "已修改账户 %s 的密码\n", args[0])
			if generated {
				fmt.Fprintf(a.stdout, "新密码（只显示这一次）：%s\n", pw)
			}
			return nil
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from standard input")
	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "remove an account with its sessions and API tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			if err := st.Update(func(tx tracker.Tx) error { return account.Remove(tx, args[0]) }); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "已删除账户 %s\n", args[0])
			return nil
		},
	}
	token := &cobra.Command{
		Use:   "token NAME",
		Short: "make an API token (Authorization: Bearer) for the account and print it alone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			var tok string
			if err := st.Update(func(tx tracker.Tx) (err error) {
				tok, err = account.NewToken(tx, args[0], a.wallClock())
				return err
			}); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, tok)
			return nil
		},
	}
	cmd.AddCommand(add, list, passwd, remove, token)
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return cmd
}

func roleHelp() string { return "admin|office|leader|unit" }

// password reads the password from standard input (its first line) or
// makes a random one (generated true). The line read is kept in a.input
// so that a running daemon gets it with the command.
func (a *app) password(fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return account.NewPassword(), true, nil
	}
	in := a.stdin
	if in == nil {
		in = os.Stdin
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", false, fmt.Errorf("%w: --password-stdin: standard input is empty", errBadUsage)
	}
	a.input = pw + "\n"
	return pw, false, nil
}
