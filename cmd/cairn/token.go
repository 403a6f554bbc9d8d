//go:build !cairncli

package main

import (
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/web"
	"github.com/spf13/cobra"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens",
	}
	cmd.AddCommand(newTokenCreateCommand())
	return cmd
}

func newTokenCreateCommand() *cobra.Command {
	cfg, cfgErr := config.Load()
	var org, name, scopes string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it",
		Long: `Create an API token for an organization and print it on standard output, alone
on its line, so scripts can capture it. Only a hash of the token is stored: copy
it now, it cannot be shown again.

The token authenticates the API (/api/0/...) and sentry-cli, as a Bearer token:
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/0/projects/default/default/issues/
  SENTRY_URL=http://127.0.0.1:8000 SENTRY_AUTH_TOKEN=$TOKEN sentry-cli ...

Scopes are Sentry's; write implies read. Without --scopes the token gets
` + strings.Join(web.DefaultScopes, ", ") + `.

The data directory may belong to a running server: both use it safely. On a
fresh directory the default organization and project are created first.`,
		Example: `  TOKEN=$(cairn token create --data-dir ./cairn-data --org default)
  cairn token create --data-dir ./cairn-data --org default --scopes event:read,project:read --name dashboards`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgErr != nil {
				return cfgErr
			}
			ctx := cmd.Context()
			st, err := openStores(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.close()
			if _, _, _, err := web.EnsureDefaults(ctx, st.meta); err != nil {
				return err
			}
			var list []string
			for s := range strings.SplitSeq(scopes, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			secret, _, err := web.CreateToken(ctx, st.meta, org, name, list)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), secret)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the server's data directory ($CAIRN_DATA_DIR)")
	f.StringVar(&org, "org", web.DefaultSlug, "slug of the organization the token belongs to")
	f.StringVar(&scopes, "scopes", "", "comma-separated scopes (default: "+strings.Join(web.DefaultScopes, ",")+")")
	f.StringVar(&name, "name", "", "a label to recognize the token by")
	return cmd
}
