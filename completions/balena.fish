# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_balena_global_optspecs
    string join \n debug json unsupported h/help V/version
end

function __fish_balena_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_balena_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_balena_using_subcommand
    set -l cmd (__fish_balena_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c balena -n "__fish_balena_needs_command" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_needs_command" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_needs_command" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_needs_command" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_needs_command" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_needs_command" -f -a "login" -d 'Log in with a session token or API key, or with your email and password (checked with the server before anything is saved)'
complete -c balena -n "__fish_balena_needs_command" -f -a "logout" -d 'Log out: remove the saved token'
complete -c balena -n "__fish_balena_needs_command" -f -a "whoami" -d 'Show who you are logged in as'
complete -c balena -n "__fish_balena_needs_command" -f -a "fleet" -d 'Show a fleet, list fleets, or manage a fleet\'s release policy'
complete -c balena -n "__fish_balena_needs_command" -f -a "device" -d 'Show a device, list devices, or manage a device\'s release policy'
complete -c balena -n "__fish_balena_needs_command" -f -a "release" -d 'Show a release, or list the releases of a fleet'
complete -c balena -n "__fish_balena_needs_command" -f -a "releases" -d 'List the releases of a fleet (same as `release list`)'
complete -c balena -n "__fish_balena_needs_command" -f -a "help" -d 'Show the help of balena, or of a command'
complete -c balena -n "__fish_balena_needs_command" -f -a "version" -d 'Print the version of this CLI'
complete -c balena -n "__fish_balena_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c balena -n "__fish_balena_using_subcommand login" -s t -l token -d 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)' -r
complete -c balena -n "__fish_balena_using_subcommand login" -s e -l email -l user -d 'The email (or username) for --credentials' -r
complete -c balena -n "__fish_balena_using_subcommand login" -s p -l password -d 'The password for --credentials (prefer the prompt: a command line is visible to other users of the machine)' -r
complete -c balena -n "__fish_balena_using_subcommand login" -s c -l credentials -d 'Log in with email and password (prompted for unless given with --email and --password)'
complete -c balena -n "__fish_balena_using_subcommand login" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand login" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand login" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand login" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand login" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand logout" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand logout" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand logout" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand logout" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand logout" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand whoami" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand whoami" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand whoami" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand whoami" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -l view -d 'Open the fleet\'s dashboard page in the browser (print its URL when there is no browser to open)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -a "list" -d 'List the fleets you can access'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -a "pin" -d 'Pin a fleet to a release, or show its current release policy'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -a "track-latest" -d 'Make a fleet track its latest release'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -a "rollback" -d 'Pin a fleet to the pinnable release just before its current target'
complete -c balena -n "__fish_balena_using_subcommand fleet; and not __fish_seen_subcommand_from list pin track-latest rollback rollout" -a "rollout" -d 'Roll a release out in waves (canaries, then steps), each gated on the devices\' health, with automatic rollback; `status` and `abort` work from any machine'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from list" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from list" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from list" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -l timeout -d 'How long --wait waits: e.g. 90s, 5m, 1h' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -l dry-run -d 'Do all the reads and print what would change, without changing anything (no write request is sent)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -l wait -d 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from pin" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -l timeout -d 'How long --wait waits: e.g. 90s, 5m, 1h' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -l dry-run -d 'Do all the reads and print what would change, without changing anything (no write request is sent)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -l wait -d 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from track-latest" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -l timeout -d 'How long --wait waits: e.g. 90s, 5m, 1h' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -l dry-run -d 'Do all the reads and print what would change, without changing anything (no write request is sent)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -l wait -d 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollback" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l canary -d 'A canary wave: devices with the tag KEY (or KEY=VALUE), or a comma-separated list of uuids; repeat for more canary waves, rolled out first, in order' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l steps -d 'The step waves over the other devices: cumulative percentages or device counts, the last one 100%' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l soak -d 'How long a wave\'s devices must stay healthy on the release before the next wave' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l step-timeout -d 'How long a device of a wave may take to reach the release before it counts as failed' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l max-failures -d 'How many devices of a wave may fail (N, or N% of its online devices) before the rollout is rolled back' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l pause -d 'How long to wait between waves (not with --next)' -r
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l next -d 'Run only the next wave, and exit 0 once it is healthy (for an approval between stages of a pipeline)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l dry-run -d 'Do all the reads and print the waves and the fleet\'s changes, without changing anything (no write request is sent)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -a "status" -d 'Show a fleet\'s rollout: its phase, and each wave\'s devices on target, pending and failed'
complete -c balena -n "__fish_balena_using_subcommand fleet; and __fish_seen_subcommand_from rollout" -a "abort" -d 'Abort a fleet\'s rollout and roll it back (a run in progress stops)'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -l view -d 'Open the device\'s dashboard page in the browser (print its URL when there is no browser to open)'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -a "list" -d 'List devices, optionally of one fleet, with their release policy'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -a "pin" -d 'Pin devices to a release, or show a device\'s current release policy'
complete -c balena -n "__fish_balena_using_subcommand device; and not __fish_seen_subcommand_from list pin track-fleet" -a "track-fleet" -d 'Make devices track their fleet\'s release again (remove their pins)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -s f -l fleet -d 'Only the devices of this fleet (slug, name, uuid or id)' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l tag -d 'Only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l pinned -d 'Only the devices pinned to a release'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l tracking -d 'Only the devices that track their fleet\'s release (not pinned)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l behind -d 'Only the devices whose running release differs from their target release'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -s f -l fleet -d 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l tag -d 'With --fleet: only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l timeout -d 'How long --wait waits: e.g. 90s, 5m, 1h' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l dry-run -d 'Do all the reads and print what would change, without changing anything (no write request is sent)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l wait -d 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from pin" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -s f -l fleet -d 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l tag -d 'With --fleet: only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l timeout -d 'How long --wait waits: e.g. 90s, 5m, 1h' -r
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l dry-run -d 'Do all the reads and print what would change, without changing anything (no write request is sent)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l wait -d 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand device; and __fish_seen_subcommand_from track-fleet" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -s c -l composition -d 'Print the release\'s composition (its docker-compose content) as YAML, as the official CLI does'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand release; and not __fish_seen_subcommand_from list" -a "list" -d 'List the releases of a fleet, newest first'
complete -c balena -n "__fish_balena_using_subcommand release; and __fish_seen_subcommand_from list" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand release; and __fish_seen_subcommand_from list" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand release; and __fish_seen_subcommand_from list" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand release; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand release; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand releases; and not __fish_seen_subcommand_from list" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand releases; and not __fish_seen_subcommand_from list" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand releases; and not __fish_seen_subcommand_from list" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand releases; and not __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand releases; and not __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand releases; and not __fish_seen_subcommand_from list" -a "list" -d 'List the releases of a fleet, newest first'
complete -c balena -n "__fish_balena_using_subcommand releases; and __fish_seen_subcommand_from list" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand releases; and __fish_seen_subcommand_from list" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand releases; and __fish_seen_subcommand_from list" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand releases; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c balena -n "__fish_balena_using_subcommand releases; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand help" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand help" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand help" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand help" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand help" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand version" -s a -l all -d 'Also print the versions of the components (one line each, as the official CLI)'
complete -c balena -n "__fish_balena_using_subcommand version" -s j -d 'Same as --json (the official `version -j`)'
complete -c balena -n "__fish_balena_using_subcommand version" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand version" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand version" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand version" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand version" -s V -l version -d 'Print version'
complete -c balena -n "__fish_balena_using_subcommand completion" -l debug -d 'Print each HTTP request and response status on stderr (the token is redacted)'
complete -c balena -n "__fish_balena_using_subcommand completion" -l json -d 'Print data as JSON on stdout, and errors as one JSON object on stderr'
complete -c balena -n "__fish_balena_using_subcommand completion" -l unsupported -d 'Accepted and ignored, for compatibility with the official CLI'
complete -c balena -n "__fish_balena_using_subcommand completion" -s h -l help -d 'Print help'
complete -c balena -n "__fish_balena_using_subcommand completion" -s V -l version -d 'Print version'
