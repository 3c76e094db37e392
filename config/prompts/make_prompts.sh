#!/usr/bin/env bash
# Regenerates every prompt of the hotline, and README.md beside them, from the texts below.
#
# Output format (what the prompt player requires): RIFF WAV, 8000 Hz, mono, 16-bit signed PCM.
# Speech is synthesised with espeak-ng (Russian voice), silence at either end is trimmed and
# replaced with 150 ms, and the level is normalised to -3 dBFS. Hold music is synthesised with
# sox at about -12 dBFS and fades to silence at both ends so that it loops without a click.
#
# Reproducible: dithering is disabled (-D) and sox's random generator is fixed (-R), so the
# same tool versions give byte-identical files.
#
# Requires: espeak-ng, sox.   Usage: ./make_prompts.sh   (from any directory)
set -euo pipefail

cd "$(dirname "$0")"

for tool in espeak-ng sox soxi; do
    command -v "$tool" >/dev/null || { echo "make_prompts.sh: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

VOICE="ru"
SPEED=140          # words per minute; a little slower than default for the telephone
OUT_FORMAT=(-r 8000 -c 1 -b 16 -e signed-integer)
SOX=(sox -D -R -V2)

# Table rows for README.md, filled as files are made: "file|text".
readme_rows=()

# speak NAME TEXT: writes NAME.wav.
speak() {
    local name="$1" text="$2"
    espeak-ng -v "$VOICE" -s "$SPEED" -w "$work/$name.raw.wav" "$text"
    # silence: drop everything below 0.5 % until 50 ms of sound, at the start, then (reversed)
    # at the end; pad puts back a short, fixed margin so prompts join naturally. espeak-ng
    # peaks near full scale, so gain -6 leaves headroom for the filters before norm.
    "${SOX[@]}" "$work/$name.raw.wav" "${OUT_FORMAT[@]}" "$name.wav" \
        silence 1 0.05 0.5% reverse silence 1 0.05 0.5% reverse \
        gain -6 highpass 120 rate -v 8000 norm -3 pad 0.15 0.15
    readme_rows+=("$name.wav|$text")
}

speak after_hours "Здравствуйте! Вы позвонили в контакт-центр Горводоканала. Сейчас нерабочее время. Мы работаем по будним дням с восьми до восемнадцати часов. Показания счётчиков можно передать в личном кабинете на сайте. Пожалуйста, перезвоните в рабочее время. До свидания."
speak greeting "Здравствуйте! Вы позвонили в контакт-центр Горводоканала."
speak recording_notice "Для контроля качества обслуживания все разговоры записываются."
speak please_wait "Все операторы заняты. Пожалуйста, оставайтесь на линии, вам обязательно ответят."
speak no_operators "К сожалению, сейчас нет свободных операторов. Пожалуйста, перезвоните позже. До свидания."
speak overflow "К сожалению, время ожидания истекло. Пожалуйста, перезвоните позже. До свидания."
# Operators' feature codes: *50 (pause) and *51 (resume) are confirmed by voice.
speak paused "Пауза включена. Звонки вам не поступают."
speak resumed "Пауза снята. Вы снова принимаете звонки."

ordinals=(первый второй третий четвёртый пятый шестой седьмой восьмой девятый)
for i in "${!ordinals[@]}"; do
    speak "position_$((i + 1))" "Вы ${ordinals[$i]} в очереди."
done
speak position_many "Перед вами более девяти человек."

# Russian plural after a numeral: 1 минута; 2-4 минуты; 5-10 минут.
numerals=(одна две три четыре пять шесть семь восемь девять десять)
for i in "${!numerals[@]}"; do
    n=$((i + 1))
    case "$n" in
        1) unit="минута" ;;
        2 | 3 | 4) unit="минуты" ;;
        *) unit="минут" ;;
    esac
    speak "wait_$n" "Примерное время ожидания — ${numerals[$i]} $unit."
done
speak wait_more "Примерное время ожидания — более десяти минут."

# Hold music: I-vi-IV-V in C major (C, Am, F, G), 5 s per chord, 20 s in all. Each chord is a
# soft sine pad under a slow plucked arpeggio. Notes are semitones from A4 (sox's %N syntax).
# The progression ends on G, which leads back into C when the file loops.
NOTE=0.625         # eight arpeggio notes per chord
CHORD=5
chords=(
    "C:-21 -17 -14:-9 -5 -2 3 -2 -5 -9 -5"
    "Am:-24 -21 -17:-12 -9 -5 0 -5 -9 -12 -9"
    "F:-28 -24 -21:-16 -12 -9 -4 -9 -12 -16 -12"
    "G:-26 -22 -19:-14 -10 -7 -2 -7 -10 -14 -10"
)
parts=()
for entry in "${chords[@]}"; do
    IFS=: read -r chord pad arp <<<"$entry"
    synth_pad=()
    for n in $pad; do synth_pad+=(sine "%$n"); done
    # three pad voices, mixed down, quiet, with soft edges so chord changes do not click
    "${SOX[@]}" -n -r 44100 -c 1 "$work/pad_$chord.wav" synth "$CHORD" "${synth_pad[@]}" \
        remix - vol 0.12 fade h 0.4 "$CHORD" 0.4
    notes=()
    k=0
    for n in $arp; do
        "${SOX[@]}" -n -r 44100 -c 1 "$work/note_${chord}_$k.wav" synth "$NOTE" pluck "%$n" \
            vol 0.35 fade h 0.005 "$NOTE" 0.15
        notes+=("$work/note_${chord}_$k.wav")
        k=$((k + 1))
    done
    "${SOX[@]}" "${notes[@]}" "$work/arp_$chord.wav"
    "${SOX[@]}" -m "$work/pad_$chord.wav" "$work/arp_$chord.wav" "$work/part_$chord.wav"
    parts+=("$work/part_$chord.wav")
done
"${SOX[@]}" "${parts[@]}" "${OUT_FORMAT[@]}" hold_music.wav \
    lowpass 3000 rate -v 8000 norm -12 fade h 0.05 20 0.05
readme_rows+=("hold_music.wav|(music) C – Am – F – G, soft sine pad and plucked arpeggio, −12 dBFS, loops without a click")

# README.md: what each file says and how long it is, regenerated with the files.
{
    echo "# Prompts"
    echo
    echo "Voice prompts of the Горводоканал (Pskov) hotline 79-21-12, open weekdays 08:00–18:00."
    echo "All files are RIFF WAV, 8000 Hz, mono, 16-bit signed PCM: the prompt player refuses any"
    echo "other format. Speech is normalised to −3 dBFS with 150 ms of silence at either end."
    echo
    echo "Do not edit the WAV files by hand: change the texts in \`make_prompts.sh\` and run it"
    echo "again (needs \`espeak-ng\` and \`sox\`); it rewrites the files and this README."
    echo
    echo "| File | Duration, s | Text |"
    echo "|------|------------:|------|"
    for row in "${readme_rows[@]}"; do
        file="${row%%|*}"
        text="${row#*|}"
        printf '| `%s` | %.2f | %s |\n' "$file" "$(soxi -D "$file")" "$text"
    done
} >README.md

echo "make_prompts.sh: wrote ${#readme_rows[@]} files and README.md"
