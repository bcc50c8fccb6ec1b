
use builtin;
use str;

set edit:completion:arg-completer[balena] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'balena'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'balena'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Log in with a session token or API key, or with your email and password (checked with the server before anything is saved)'
            cand logout 'Log out: remove the saved token'
            cand whoami 'Show who you are logged in as'
            cand fleet 'Show a fleet, list fleets, or manage a fleet''s release policy'
            cand device 'Show a device, list devices, or manage a device''s release policy'
            cand release 'Show a release, or list the releases of a fleet'
            cand releases 'List the releases of a fleet (same as `release list`)'
            cand help 'Show the help of balena, or of a command'
            cand version 'Print the version of this CLI'
            cand completion 'Print a shell completion script'
        }
        &'balena;login'= {
            cand -t 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)'
            cand --token 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)'
            cand -e 'The email (or username) for --credentials'
            cand --email 'The email (or username) for --credentials'
            cand --user 'The email (or username) for --credentials'
            cand -p 'The password for --credentials (prefer the prompt: a command line is visible to other users of the machine)'
            cand --password 'The password for --credentials (prefer the prompt: a command line is visible to other users of the machine)'
            cand -c 'Log in with email and password (prompted for unless given with --email and --password)'
            cand --credentials 'Log in with email and password (prompted for unless given with --email and --password)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;logout'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;whoami'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet'= {
            cand --view 'Open the fleet''s dashboard page in the browser (print its URL when there is no browser to open)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the fleets you can access'
            cand pin 'Pin a fleet to a release, or show its current release policy'
            cand track-latest 'Make a fleet track its latest release'
            cand rollback 'Pin a fleet to the pinnable release just before its current target'
            cand rollout 'Roll a release out in waves (canaries, then steps), each gated on the devices'' health, with automatic rollback; `status` and `abort` work from any machine'
        }
        &'balena;fleet;list'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet;pin'= {
            cand --timeout 'How long --wait waits: e.g. 90s, 5m, 1h'
            cand --dry-run 'Do all the reads and print what would change, without changing anything (no write request is sent)'
            cand --wait 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet;track-latest'= {
            cand --timeout 'How long --wait waits: e.g. 90s, 5m, 1h'
            cand --dry-run 'Do all the reads and print what would change, without changing anything (no write request is sent)'
            cand --wait 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet;rollback'= {
            cand --timeout 'How long --wait waits: e.g. 90s, 5m, 1h'
            cand --dry-run 'Do all the reads and print what would change, without changing anything (no write request is sent)'
            cand --wait 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet;rollout'= {
            cand --canary 'A canary wave: devices with the tag KEY (or KEY=VALUE), or a comma-separated list of uuids; repeat for more canary waves, rolled out first, in order'
            cand --steps 'The step waves over the other devices: cumulative percentages or device counts, the last one 100%'
            cand --soak 'How long a wave''s devices must stay healthy on the release before the next wave'
            cand --step-timeout 'How long a device of a wave may take to reach the release before it counts as failed'
            cand --max-failures 'How many devices of a wave may fail (N, or N% of its online devices) before the rollout is rolled back'
            cand --pause 'How long to wait between waves (not with --next)'
            cand --next 'Run only the next wave, and exit 0 once it is healthy (for an approval between stages of a pipeline)'
            cand --dry-run 'Do all the reads and print the waves and the fleet''s changes, without changing anything (no write request is sent)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'Show a fleet''s rollout: its phase, and each wave''s devices on target, pending and failed'
            cand abort 'Abort a fleet''s rollout and roll it back (a run in progress stops)'
        }
        &'balena;fleet;rollout;status'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet;rollout;abort'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;device'= {
            cand --view 'Open the device''s dashboard page in the browser (print its URL when there is no browser to open)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List devices, optionally of one fleet, with their release policy'
            cand pin 'Pin devices to a release, or show a device''s current release policy'
            cand track-fleet 'Make devices track their fleet''s release again (remove their pins)'
        }
        &'balena;device;list'= {
            cand -f 'Only the devices of this fleet (slug, name, uuid or id)'
            cand --fleet 'Only the devices of this fleet (slug, name, uuid or id)'
            cand --tag 'Only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several'
            cand --pinned 'Only the devices pinned to a release'
            cand --tracking 'Only the devices that track their fleet''s release (not pinned)'
            cand --behind 'Only the devices whose running release differs from their target release'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;device;pin'= {
            cand -f 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices'
            cand --fleet 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices'
            cand --tag 'With --fleet: only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several'
            cand --timeout 'How long --wait waits: e.g. 90s, 5m, 1h'
            cand --dry-run 'Do all the reads and print what would change, without changing anything (no write request is sent)'
            cand --wait 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;device;track-fleet'= {
            cand -f 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices'
            cand --fleet 'Select every device of this fleet (slug, name, uuid or id) instead of naming devices'
            cand --tag 'With --fleet: only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to require several'
            cand --timeout 'How long --wait waits: e.g. 90s, 5m, 1h'
            cand --dry-run 'Do all the reads and print what would change, without changing anything (no write request is sent)'
            cand --wait 'After the change, wait until every affected online device runs its target release (exit 8 on timeout, listing the devices still behind)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;release'= {
            cand -c 'Print the release''s composition (its docker-compose content) as YAML, as the official CLI does'
            cand --composition 'Print the release''s composition (its docker-compose content) as YAML, as the official CLI does'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the releases of a fleet, newest first'
        }
        &'balena;release;list'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;releases'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the releases of a fleet, newest first'
        }
        &'balena;releases;list'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;help'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;version'= {
            cand -a 'Also print the versions of the components (one line each, as the official CLI)'
            cand --all 'Also print the versions of the components (one line each, as the official CLI)'
            cand -j 'Same as --json (the official `version -j`)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;completion'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
