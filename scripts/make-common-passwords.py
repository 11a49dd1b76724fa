#!/usr/bin/env python3
"""Writes the common-password list generated services ship (auth/common_passwords.txt).

Nothing is downloaded: the list is the well-known passwords below (those topping every public
breach analysis, written down from general knowledge), their common leetspeak variants, keyboard
walks, digit runs and repeated characters; variants with digits, years or symbols appended are
not listed, as the service strips those before it looks. Lower case, one a line, sorted,
deduplicated. The generated service refuses a password whose lower case is on the list, or is
on it once trailing digits and symbols are stripped (README of the generated project).

    python scripts/make-common-passwords.py > \
        src/backforge/templates/project/__package__/auth/common_passwords.txt.jinja
"""

from __future__ import annotations

import string


def words(text: str) -> list[str]:
    return text.split()


BASE = words("""
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball
abc123 football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang
1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer
trustno1 jordan jennifer zxcvbnm asdfgh hunter buster soccer harley batman andrew tigger
sunshine iloveyou 2000 charlie robert thomas hockey ranger daniel starwars klaster 112233
george computer michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom 777777
pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley nicole
chelsea biteme matthew access yankees 987654321 dallas austin thunder taylor matrix
william corvette hello martin heather secret merlin diamond 1234qwer gfhjkm hammer silver
222222 88888888 anthony justin test bailey q1w2e3r4t5 patrick internet scooter orange 11111
golfer cookie richard samantha bigdog guitar jackson whatever mickey chicken sparky snoopy
maverick phoenix camaro peanut morgan welcome falcon cowboy ferrari samsung andrea smokey
steelers joseph mercedes dakota arsenal eagles melissa boomer booboo spider nascar monster
tigers yellow xxxxxx 123123123 gateway marina diablo bulldog qwer1234 compaq purple hardcore
banana junior hannah 123654 porsche lakers iceman money cowboys 987654 london tennis 999999
ncc1701 coffee scooby 0000 miller boston q1w2e3r4 brandon yamaha chester mother forever
johnny edward 333333 oliver redsox player nikita knight fender barney midnight please brandy
chicago badboy slayer rangers charles angel flower rabbit wizard bigdick jasper enter
rachel chris steven winner adidas victoria natasha 1q2w3e4r jasmine winter prince panties
marine ghbdtn fishing cocacola casper james 232323 raiders 888888 marlboro gandalf asdfasdf
crystal 87654321 12344321 golden 8675309 united turtle liverpool fuckyou fuckme
123abc 1q2w3e4r5t 1qazxsw2 abcd1234 admin administrator alexander amber anthony1 apple
asdf asdfghjkl azerty babygirl basketball bonjour butterfly changeme charlie1 cheese123
computer1 daniel1 default dolphin dragon1 dubsmash elizabeth flower1 freedom1 friends
hello123 hellokitty hottie iloveyou1 iloveyou2 jesus jordan23 justinbieber killer1 ladybug
letmein1 lovely loveme lovers lucky magic master1 matthew1 monkey1 mylove naruto
nothing pass123 passw0rd password1 password12 password123 pokemon qazwsxedc qwerty1
qwerty123 qwertyui qwe123 root sample shadow1 soccer1 starwars1 sunshine1 superman1 system
tinkerbell toor trustme user welcome1 whatever1 zaq12wsx zaq1zaq1 zxcvbnm1 zxcvbnm123
iloveu babygirl1 princess1 angel1 anthony sweety blink182 jessica1 lovelove chocolate
secret123 welcome123 admin123 administrator1 root123 test123 test1234 guest guest123
login login123 abc12345 abcdef abcdefg abcdefgh 12341234 11223344 147258369 123456a
a123456 123456q qwerty12 qwerty1234 1234abcd 7654321 147258 159357 456789 789456 789456123
mypassword yourpassword newpassword oldpassword mypass passpass password! p@ssword p@ssw0rd
pa55word pa$$word passw0rd! letmein! welcome! qwerty! starwars! monkey! dragon! master!
nopassword nopass secretpassword supersecret topsecret security changeit temp temp123
temppassword default123 manager office office123 company company123 summer2020 winter2020
spring2021 autumn2021 football1 baseball1 soccer12 hockey1 basketball1 computer123
internet1 matrix1 mustang1 harley1 ranger1 corvette1 michael1 jennifer1 jordan1 hunter1
buster1 tigger1 charlie123 robert1 thomas1 daniel123 george1 michelle1 pepper1 ginger1
maggie1 summer1 ashley1 nicole1 chelsea1 yankees1 dallas1 austin1 taylor1 william1
heather1 merlin1 diamond1 hammer1 silver1 patrick1 orange1 cookie1 richard1 samantha1
guitar1 jackson1 mickey1 chicken1 maverick1 phoenix1 peanut1 morgan1 falcon1 cowboy1
ferrari1 samsung1 andrea1 smokey1 steelers1 joseph1 mercedes1 dakota1 arsenal1 eagles1
melissa1 boomer1 spider1 monster1 yellow1 bulldog1 purple1 banana1 junior1 hannah1
porsche1 lakers1 money1 london1 tennis1 coffee1 scooby1 miller1 boston1 brandon1 chester1
mother1 forever1 johnny1 edward1 oliver1 player1 knight1 midnight1 please1 brandy1
chicago1 slayer1 charles1 rabbit1 wizard1 rachel1 chris1 steven1 winner1 victoria1
natasha1 jasmine1 winter1 prince1 marine1 casper1 james1 raiders1 gandalf1 crystal1
golden1 united1 turtle1 liverpool1 correcthorse correcthorsebatterystaple
thequickbrownfox thequickbrownfoxjumpsoverthelazydog iloveyouforever letmeinplease
opensesame trustnoone whatever123 qwertyuiop123 asdfghjkl123 zxcvbnm12345 password1234
password12345 password123456 passwordpassword 1password qwertyqwerty monkeymonkey
abcabc abcabcabc abc123abc123 welcome2024 welcome2025 welcome2026 password2024
password2025 password2026 admin2024 admin2025 admin2026 spring2024 summer2024 autumn2024
winter2024 spring2025 summer2025 autumn2025 winter2025 january february march april may
june july august september october november december monday tuesday wednesday thursday
friday saturday sunday
""")

WORDS = words("""
password passw0rd p@ssw0rd p@ssword pa55word qwerty letmein welcome admin administrator
monkey dragon master shadow sunshine princess football baseball iloveyou trustno1 superman
batman starwars pokemon computer internet secret freedom whatever charlie michael jennifer
jessica ashley hunter killer soccer hockey tigger summer winter spring autumn london
chelsea liverpool arsenal matrix mustang ferrari corvette yankees cowboys dallas
""")

WALKS = words("""
qwertyuiop qwertyuiop[] asdfghjkl asdfghjkl; zxcvbnm zxcvbnm,./ 1qaz2wsx3edc 1qaz2wsx3edc4rfv
qazwsxedcrfv qazwsxedcrfvtgb zaq12wsx zaq12wsxcde3 !qaz@wsx #edc$rfv 1q2w3e4r5t6y 1q2w3e4r5t6y7u
q1w2e3r4t5y6 qweasdzxc qweasd qweasdzxc123 asdzxc asdqwe123 azertyuiop qwertzuiop ytrewq
poiuytrewq lkjhgfdsa mnbvcxz 147852369 741852963 963852741 159753456 123qweasdzxc
""")


def leet(word: str) -> set[str]:
    swaps = {"a": "@", "o": "0", "e": "3", "i": "1", "s": "$"}
    out = {word}
    for letter, sign in swaps.items():
        out |= {variant.replace(letter, sign) for variant in out}
    return out


def main() -> None:
    found: set[str] = set(BASE) | set(WALKS)
    for word in WORDS:
        found |= leet(word)  # digits, years or symbols appended: the service strips them
    digits = "12345678901234567890"
    for length in range(4, 17):
        found.add(digits[:length])  # 1234…
        found.add(digits[:length][::-1])  # …4321
        found.add("0123456789"[: min(length, 10)])
    for char in string.digits + string.ascii_lowercase:
        for length in range(4, 17):
            found.add(char * length)  # aaaa…, 1111…
    for pair in ("12", "123", "1234", "abc", "abcd", "qwe", "asd", "xyz", "69", "11"):
        for times in range(2, 6):
            found.add(pair * times)
    lines = sorted(word.lower() for word in found if word and "{" not in word)
    print("\n".join(dict.fromkeys(lines)))


if __name__ == "__main__":
    main()
