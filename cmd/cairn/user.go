//go:build !cairncli

package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/web"
	"github.com/cairn-dev/cairn/web/ui"
	"github.com/spf13/cobra"
)

func newUserCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage accounts of the web interface",
	}
	cmd.AddCommand(newUserCreateCommand())
	return cmd
}

func newUserCreateCommand() *cobra.Command {
	cfg, cfgErr := config.Load()
	var email, org string
	var admin, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an account that signs in to the web interface",
		Long: `Create an account of the web interface and make it a member of an organization.
The first account of an installation is always an administrator; --admin makes
later ones administrators too.

The password is read from the first line of standard input (--password-stdin),
never from a flag, so it stays out of shell history and process lists. Only a
bcrypt hash of it is stored.

Instead of this command, the first administrator can also be created in the
browser: the first visit to the server shows a setup form.`,
		Example: `  printf '%s\n' "$PASSWORD" | cairn user create --data-dir ./cairn-data --email admin@example.com --password-stdin`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgErr != nil {
				return cfgErr
			}
			if !passwordStdin {
				return errors.New("give the password on standard input with --password-stdin")
			}
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("reading the password from standard input: %w", err)
			}
			password := strings.TrimRight(line, "\r\n")
			ctx := cmd.Context()
			st, err := openStores(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.close()
			if _, _, _, err := web.EnsureDefaults(ctx, st.meta); err != nil {
				return err
			}
			o, err := st.meta.OrgBySlug(ctx, org)
			if err != nil {
				return err
			}
			u, err := ui.CreateUser(ctx, st.meta, email, password, admin, []int64{o.ID})
			if err != nil {
				return err
			}
			role := "member"
			if u.Admin {
				role = "administrator"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "created %s %s of organization %s\n", role, u.Email, o.Slug)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the server's data directory ($CAIRN_DATA_DIR)")
	f.StringVar(&email, "email", "", "email address the account signs in with")
	f.StringVar(&org, "org", web.DefaultSlug, "slug of the organization the account joins")
	f.BoolVar(&admin, "admin", false, "make the account an administrator")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.MarkFlagRequired("email")
	return cmd
}
