
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'balena' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'balena'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'balena' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in with a session token or API key, or with your email and password (checked with the server before anything is saved)')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Log out: remove the saved token')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Show who you are logged in as')
            [CompletionResult]::new('fleet', 'fleet', [CompletionResultType]::ParameterValue, 'Show a fleet, list fleets, or manage a fleet''s release policy')
            [CompletionResult]::new('device', 'device', [CompletionResultType]::ParameterValue, 'Show a device, list devices, or manage a device''s release policy')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Show a release, or list the releases of a fleet')
            [CompletionResult]::new('releases', 'releases', [CompletionResultType]::ParameterValue, 'List the releases of a fleet (same as `release list`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Show the help of balena, or of a command')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the version of this CLI')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            break
        }
        'balena;login' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'The email (or username) for --credentials')
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'The email (or username) for --credentials')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The email (or username) for --credentials')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'The password for --credentials (prefer the prompt: a command line is visible to other users of the machine)')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'The password for --credentials (prefer the prompt: a command line is visible to other users of the machine)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Log in with email and password (prompted for unless given with --email and --password)')
            [CompletionResult]::new('--credentials', '--credentials', [CompletionResultType]::ParameterName, 'Log in with email and password (prompted for unless given with --email and --password)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;logout' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;whoami' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;fleet' {
            [CompletionResult]::new('--view', '--view', [CompletionResultType]::ParameterName, 'Open the fleet''s dashboard page in the browser (print its URL when there is no browser to open)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the fleets you can access')
            [CompletionResult]::new('pin', 'pin', [CompletionResultType]::ParameterValue, 'Pin a fleet to a release, or show its current release policy')
            [CompletionResult]::new('track-latest', 'track-latest', [CompletionResultType]::ParameterValue, 'Make a fleet track its latest release')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Pin a fleet to the pinnable release just before its current target')
            [CompletionResult]::new('rollout', 'rollout', [CompletionResultType]::ParameterValue, 'Roll a release out in waves (canaries, then steps), each gated on the devices'' health, with automatic rollback; `status` and `abort` work from any machine')
            break
        }
        'balena;fleet;list' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;fleet;pin' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits: e.g. 90s, 5m, 1h')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Do all the reads and print what would change, without changing anything (no write request is sent)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;fleet;track-latest' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits: e.g. 90s, 5m, 1h')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Do all the reads and print what would change, without changing anything (no write request is sent)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;fleet;rollback' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits: e.g. 90s, 5m, 1h')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Do all the reads and print what would change, without changing anything (no write request is sent)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;fleet;rollout' {
            [CompletionResult]::new('--canary', '--canary', [CompletionResultType]::ParameterName, 'A canary wave: devices with the tag KEY (or KEY=VALUE), or a comma-separated list of uuids; repeat for more canary waves, rolled out first, in order')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'The step waves over the other devices: cumulative percentages or device counts, the last one 100%')
            [CompletionResult]::new('--soak', '--soak', [CompletionResultType]::ParameterName, 'How long a wave''s devices must stay healthy on the release before the next wave')
            [CompletionResult]::new('--step-timeout', '--step-timeout', [CompletionResultType]::ParameterName, 'How long a device of a wave may take to reach the release before it counts as failed')
            [CompletionResult]::new('--max-failures', '--max-failures', [CompletionResultType]::ParameterName, 'How many devices of a wave may fail (N, or N% of its online devices) before the rollout is rolled back')
            [CompletionResult]::new('--pause', '--pause', [CompletionResultType]::ParameterName, 'How long to wait between waves (not with --next)')
            [CompletionResult]::new('--next', '--next', [CompletionResultType]::ParameterName, 'Run only the next wave, and exit 0 once it is healthy (for an approval between stages of a pipeline)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Do all the reads and print the waves and the fleet''s changes, without changing anything (no write request is sent)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a fleet''s rollout: its phase, and each wave''s devices on target, pending and failed')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Abort a fleet''s rollout and roll it back (a run in progress stops)')
            break
        }
        'balena;fleet;rollout;status' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;fleet;rollout;abort' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;device' {
            [CompletionResult]::new('--view', '--view', [CompletionResultType]::ParameterName, 'Open the device''s dashboard page in the browser (print its URL when there is no browser to open)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List devices, optionally of one fleet, with their release policy')
            [CompletionResult]::new('pin', 'pin', [CompletionResultType]::ParameterValue, 'Pin devices to a release, or show a device''s current release policy')
            [CompletionResult]::new('track-fleet', 'track-fleet', [CompletionResultType]::ParameterValue, 'Make devices track their fleet''s release again (remove their pins)')
            break
        }
        'balena;device;list' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Only the devices of this fleet (slug, name, uuid or id)')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Only the devices of this fleet (slug, name, uuid or id)')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several')
            [CompletionResult]::new('--pinned', '--pinned', [CompletionResultType]::ParameterName, 'Only the devices pinned to a release')
            [CompletionResult]::new('--tracking', '--tracking', [CompletionResultType]::ParameterName, 'Only the devices that track their fleet''s release (not pinned)')
            [CompletionResult]::new('--behind', '--behind', [CompletionResultType]::ParameterName, 'Only the devices whose running release differs from their target release')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;device;pin' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'With --fleet: only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits: e.g. 90s, 5m, 1h')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Do all the reads and print what would change, without changing anything (no write request is sent)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;device;track-fleet' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'With --fleet: only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits: e.g. 90s, 5m, 1h')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Do all the reads and print what would change, without changing anything (no write request is sent)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;release' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Print the release''s composition (its docker-compose content) as YAML, as the official CLI does')
            [CompletionResult]::new('--composition', '--composition', [CompletionResultType]::ParameterName, 'Print the release''s composition (its docker-compose content) as YAML, as the official CLI does')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the releases of a fleet, newest first')
            break
        }
        'balena;release;list' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;releases' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the releases of a fleet, newest first')
            break
        }
        'balena;releases;list' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;help' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;version' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Also print the versions of the components (one line each, as the official CLI)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Also print the versions of the components (one line each, as the official CLI)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Same as --json (the official `version -j`)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'balena;completion' {
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print each HTTP request and response status on stderr (the token is redacted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print data as JSON on stdout, and errors as one JSON object on stderr')
            [CompletionResult]::new('--unsupported', '--unsupported', [CompletionResultType]::ParameterName, 'Accepted and ignored, for compatibility with the official CLI')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
