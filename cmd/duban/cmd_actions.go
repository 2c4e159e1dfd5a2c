package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"duban/tracker"
)

// actionCommand builds done, progress, extend, assign, return and
// withdraw: each records one audit event with time and actor.
func (a *app) actionCommand(kind, use, short, textFlag string, required bool) *cobra.Command {
	var text, to, unit, format string
	cmd := &cobra.Command{
		Use:   kind + " " + use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			if required && text == "" {
				return fmt.Errorf("%w: %s needs --%s", errBadUsage, kind, textFlag)
			}
			if kind == "extend" && to == "" {
				return fmt.Errorf("%w: extend needs --to DATE or --to +Nwd", errBadUsage)
			}
			if kind == "assign" {
				if unit == "" {
					return fmt.Errorf("%w: assign needs --unit", errBadUsage)
				}
				to = unit
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			now, err := a.now()
			if err != nil {
				return err
			}
			var in *tracker.Instance
			err = st.Update(func(tx tracker.Tx) error {
				act := tracker.Action{Kind: kind, ID: args[0], Note: text, To: to, Actor: a.actor, At: now}
				if kind == "extend" {
					pol, err := policyOf(tx, args[0])
					if err != nil {
						return err
					}
					act.Policy = pol
				}
				in, err = a.x.Apply(tx, act)
				return err
			})
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(in)
			}
			fmt.Fprintf(a.stdout, "%s：%s，现为%s，办理时限 %s\n", in.ID, tracker.ActionLabel(kind), in.Status.Label(),
				deadlineCell(in.Deadline.Human(a.x.Env), in.Deadline.Provisional))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&text, textFlag, "", textFlag)
	switch kind {
	case "extend":
		fl.StringVar(&to, "to", "", "new deadline: YYYY-MM-DD, \"YYYY-MM-DD HH:MM\" or +Nwd/+Nd from the current last day")
	case "assign":
		fl.StringVar(&unit, "unit", "", "unit id")
	}
	fl.StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	return cmd
}

// policyOf returns the policy of the instance's item (nil if none).
func policyOf(tx tracker.Tx, id string) (*tracker.Policy, error) {
	in, err := tx.Instance(id)
	if err != nil {
		return nil, err
	}
	it, err := tx.Item(in.Item)
	if err != nil {
		return nil, err
	}
	if it.Policy == "" {
		return nil, nil
	}
	pol, err := tx.Policy(it.Policy)
	if errors.Is(err, tracker.ErrNotFound) {
		return nil, nil
	}
	return pol, err
}
