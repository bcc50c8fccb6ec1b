
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
            cand login 'Log in with a session token or API key (checked with the server before it is saved)'
            cand logout 'Log out: remove the saved token'
            cand whoami 'Show who you are logged in as'
            cand fleet 'Show a fleet, list fleets, or manage a fleet''s release policy'
            cand device 'Show a device, list devices, or manage a device''s release policy'
            cand release 'Show a release, or list the releases of a fleet'
            cand releases 'List the releases of a fleet (same as `release list`)'
            cand completion 'Print a shell completion script'
        }
        &'balena;login'= {
            cand -t 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)'
            cand --token 'The session token or API key (`-t TOKEN`, or `-t` followed by the token)'
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
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;fleet;track-latest'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;device'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List devices, optionally of one fleet'
            cand pin 'Pin a device to a release, or show its current release policy'
            cand track-fleet 'Make a device track its fleet''s release again (remove its pin)'
        }
        &'balena;device;list'= {
            cand -f 'Only the devices of this fleet (slug, name, uuid or id)'
            cand --fleet 'Only the devices of this fleet (slug, name, uuid or id)'
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;device;pin'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;device;track-fleet'= {
            cand --debug 'Print each HTTP request and response status on stderr (the token is redacted)'
            cand --json 'Print data as JSON on stdout, and errors as one JSON object on stderr'
            cand --unsupported 'Accepted and ignored, for compatibility with the official CLI'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'balena;release'= {
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
