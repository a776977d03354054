# bash completion for vsecret-admin, the offline maintenance tool of encryption at rest. Its
# commands and options are fixed, so they are listed here; `vsecret-admin --help` is their
# source and tests/docs checks the two agree.

_vsecret_admin()
{
    local cur prev cmd w
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local global="--root --system --session --config --key --quiet -q --help -h"

    case "$prev" in
        --root) COMPREPLY=( $(compgen -d -- "$cur") ); return 0 ;;
        --config|--key|--new-key|--credential) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
    esac

    # The command word is the first word that is neither an option nor an option's value.
    local i=1
    while [ $i -lt $COMP_CWORD ]; do
        w=${COMP_WORDS[i]}
        case "$w" in
            --root|--config|--key|--new-key|--credential|--format) i=$((i + 1)) ;;
            -*) ;;
            *) cmd=$w; break ;;
        esac
        i=$((i + 1))
    done

    if [ "$prev" = "--format" ]; then
        case "$cmd" in
            migrate) COMPREPLY=( $(compgen -W "aes256cbc vsenc" -- "$cur") ) ;;
            export) COMPREPLY=( $(compgen -W "base64 aes256cbc" -- "$cur") ) ;;
            *) COMPREPLY=( $(compgen -W "aes256cbc vsenc base64" -- "$cur") ) ;;
        esac
        return 0
    fi

    case "$cmd" in
        "") if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "$global" -- "$cur") )
            else
                COMPREPLY=( $(compgen -W "status verify migrate rotate export" -- "$cur") )
            fi ;;
        migrate) COMPREPLY=( $(compgen -W "--format $global" -- "$cur") ) ;;
        rotate) COMPREPLY=( $(compgen -W "--new-key --credential $global" -- "$cur") ) ;;
        export) COMPREPLY=( $(compgen -W "--format $global" -- "$cur") ) ;;
        *) COMPREPLY=( $(compgen -W "$global" -- "$cur") ) ;;
    esac
    return 0
} &&
complete -o filenames -F _vsecret_admin vsecret-admin

# vim: ft=sh:et:ts=4:sw=4
