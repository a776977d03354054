# bash completion for vsecretd, the secret daemon. Its options are fixed, so they are listed
# here; `vsecretd --help` is their source and tests/docs checks the two agree.

_vsecretd()
{
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case "$prev" in
        -f|--config) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
        --root) COMPREPLY=( $(compgen -d -- "$cur") ); return 0 ;;
        -t|--timeout) COMPREPLY=(); return 0 ;;
    esac
    COMPREPLY=( $(compgen -W "--system --session --root -f --config -t --timeout -l --listen
        -v --verbose -h --help -V --version" -- "$cur") )
    return 0
} &&
complete -o filenames -F _vsecretd vsecretd

# vim: ft=sh:et:ts=4:sw=4
