# bash completion for vsecret, the virsh-compatible secret tool.
#
# Candidates come from vsecret itself, as virsh's come from virsh: the words from the command
# name to the cursor are passed to the hidden command `vsecret complete -- WORD...`, which prints
# one candidate a line (command names, options, and live values such as secret UUIDs and pool
# or volume names, read from the connection chosen with -c/--connect and -r/--readonly).

_vsecret()
{
    local words cword c=0 i=0 cur RO URI
    local -a CMDLINE INPUT A

    # libvirt URIs contain ':', '=' and the like, which bash's default word breaks would split;
    # bash-completion's helper joins them back when it is loaded.
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n "\"'><=;|&(:" -w words -i cword
    else
        words=( "${COMP_WORDS[@]}" )
        cword=$COMP_CWORD
    fi
    cur=${words[$cword]}

    # Global options before the command word: the connection to ask, and whether read-only.
    while [ $c -le $cword ]; do
        case "${words[c]}" in
            -r|--readonly) RO=1 ;;
            -c|--connect) c=$((c + 1)); URI=${words[c]} ;;
            --connect=*) URI=${words[c]#--connect=} ;;
            -q|--quiet|-t|--timing) ;;
            -d|--debug|-e|--escape|-k|--keepalive-interval|-K|--keepalive-count|-l|--log)
                c=$((c + 1)) ;;
            -*) ;;
            *) if [ $c -ne 0 ]; then i=$c; break; fi ;;
        esac
        c=$((c + 1))
    done

    # Still in the global options: offer them.
    if [ $i -eq 0 ]; then
        case "${words[cword-1]}" in
            -l|--log) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
            -c|--connect|-d|--debug|-e|--escape|-k|--keepalive-interval|-K|--keepalive-count)
                COMPREPLY=(); return 0 ;;
        esac
        if [[ "$cur" == -* ]]; then
            COMPREPLY=( $(compgen -W "-c --connect -d --debug -e --escape -h --help
                -k --keepalive-interval -K --keepalive-count -l --log -q --quiet -r --readonly
                -t --timing -v -V --version" -- "$cur") )
            return 0
        fi
        i=$cword
    fi

    CMDLINE=( -q )
    [ -n "$RO" ] && CMDLINE+=( -r )
    [ -n "$URI" ] && CMDLINE+=( -c "$URI" )

    INPUT=( "${words[@]:$i:$((cword - i + 1))}" )

    local IFS=$'\n'
    A=( $("${1:-${words[0]}}" "${CMDLINE[@]}" complete -- "${INPUT[@]}" 2>/dev/null) )
    COMPREPLY=( $(compgen -W "${A[*]}" -- "$cur") )
    if declare -F __ltrim_colon_completions >/dev/null; then
        __ltrim_colon_completions "$cur"
    fi
    return 0
} &&
complete -o default -o filenames -F _vsecret vsecret

# vim: ft=sh:et:ts=4:sw=4
