# Жария беттер. { $жақшадағы } мәндерді сервис қояды; оқырмандар немесе редакция
# жазған мәтін (есімдер, таратылым атаулары, мекенжайлар) өзгеріссіз келеді.

## Әр бетте
footer-promise = Біз тек сіз жазылған нәрсені ғана жібереміз, әр хатта жазылымнан шығуға арналған сілтеме бар.
languages-label = Тіл
field-email = Электрондық пошта
field-name = Есіміңіз
field-optional = (міндетті емес)
field-newsletters = Таратылымдар
message-to-signup = Жазылу бетіне өту

## Жазылу
signup-page-title = Жазылу
signup-heading = Жаңалықтарымызды тікелей поштаңызға алыңыз
signup-lede = Күннің жаңа мақалалары бар бір хат. Тегін, ал бір басумен жазылымнан шығуға болады.
signup-button = Жазылу
signup-see-archive = Не алатыныңызды көріңіз:
signup-past-editions = өткен шығарылымдар
signup-error-form-type = Пішін application/x-www-form-urlencoded форматында жіберілуі керек.
signup-error-form = Пішінді оқу мүмкін болмады. Оны қайта жіберіп көріңіз.
signup-error-rate = Соңғы бір минутта желіңізден тым көп жазылу болды. Бір минут күтіп, қайталап көріңіз.
signup-error-too-many = Бүгін бұл мекенжайға растау сілтемесін бірнеше рет жібердік. Оларды кіріс жәшігіңізден (және «Спам» қалтасынан) іздеңіз немесе ертең қайталап көріңіз.
signup-error-email = Дұрыс электрондық пошта мекенжайын енгізіңіз, мысалы name@example.kz.
signup-error-name = Есімді қысқартыңыз немесе бос қалдырыңыз.
signup-error-none-chosen = Кемінде бір таратылымды таңдаңыз.
signup-error-not-offered = Таңдалған таратылымдардың бірі мұнда ұсынылмайды; тізімнен таңдаңыз.

## Поштаңызды тексеріңіз
check-inbox-title = Поштаңызды тексеріңіз
check-inbox-text = Егер <strong>{ $email }</strong> әлі жазылмаған болса, біз оған жазылымды растайтын сілтеме жібердік.
    Хатты ашып, <em>«Растау»</em> түймесін басыңыз; оған дейін бізден басқа ештеңе келмейді.
check-inbox-nothing = Бірнеше минутта хат келмеді ме? «Спам» қалтасын қараңыз немесе
check-inbox-again = жаңа сілтеме алу үшін қайта жазылыңыз.

## Растау
confirm-title = Жазылымды растаңыз
confirm-text = «{ $newsletter }» таратылымын <strong>{ $email }</strong> мекенжайына алу үшін түймені басыңыз.
confirm-button = Растау
confirmed-page-title = Жазылым рәсімделді
confirmed-heading = Сіз жазылдыңыз
confirmed-text = Рақмет! «{ $newsletter }» келесі шығарылымы поштаңызға келеді. Әр хатта жазылымнан шығуға арналған сілтеме бар.
link-problem-button = Жаңа сілтеме жіберу

## Жазылымнан шығу
unsubscribe-page-title = Жазылымнан шығу
unsubscribe-heading = Жазылымнан шығасыз ба?
unsubscribe-text = Түймені бассаңыз, <strong>{ $email }</strong> мекенжайына «{ $newsletter }» хаттары бұдан былай келмейді.
unsubscribe-button = Жазылымнан шығу
unsubscribe-everything = Барлық таратылымнан шығу
unsubscribed-page-title = Жазылымнан шықтыңыз
unsubscribed-heading = Сіз жазылымнан шықтыңыз
unsubscribed-left-one = <strong>{ $email }</strong> мекенжайына «{ $newsletter }» бұдан былай келмейді.
unsubscribed-still-receiving = Сіз әлі де аласыз:
unsubscribed-left-all = <strong>{ $email }</strong> мекенжайына «{ $newsletter }» хаттары бұдан былай келмейді. Кететініңізге өкінеміз.
unsubscribed-changed-mind = Ойыңыз өзгерді ме? Кез келген уақытта
unsubscribed-subscribe-again = қайта жазыла аласыз.

## Баптаулар
preferences-page-title = Таратылымдарыңыз
preferences-heading = Таратылымдарды басқару
preferences-intro = <strong>{ $email }</strong> не алатынын таңдаңыз.
preferences-intro-named = <strong>{ $email }</strong> ({ $reader }) не алатынын таңдаңыз.
preferences-saved = Сақталды.
preferences-language = Хаттардың тілі
preferences-save = Сақтау
preferences-email-link-title = Сілтемені жоғалттыңыз ба? Біз оны поштаңызға жібереміз
preferences-email-link-button = Жазылымды басқаруға сілтеме жіберу
preferences-email-link-sent = Бұл мекенжай тізімімізде болса, баптауларыңызға сілтеме жолда.
error-rate-text = Соңғы минутта желіңізден сұраныс тым көп болды. Бір минут күтіп, қайталап көріңіз.
preferences-email-link-intro = Мекенжайыңызды енгізіңіз: қандай таратылымдар алатыныңызды таңдауға немесе жазылымнан шығуға арналған сілтемені жібереміз.

## Мұрағат
archive-page-title = Мұрағат
archive-heading = Өткен шығарылымдар
archive-articles = { $count ->
        [one] { $count } мақала
       *[other] { $count } мақала
    }
archive-next = Келесі шығарылымды поштаңызға алыңыз:
archive-subscribe = жазылыңыз
archive-empty = Әзірге бірде-бір шығарылым жіберілген жоқ.
archive-empty-subscribe = Біріншісін алу үшін жазылыңыз.

## Қате беттері: тақырып пен түсініктеме
error-not-found-title = Бет табылмады
error-not-found-text = Бұл мекенжайда ештеңе жоқ. Сілтемені тексеріңіз немесе жазылу бетіне өтіңіз.
error-no-edition-title = Мұндай шығарылым жоқ
error-no-edition-text = Бұл мекенжайда шығарылым жоқ. Өткен шығарылымдар мұрағатта.
error-no-newsletter-title = Мұндай тарату жоқ
error-no-newsletter-text = Бұл мекенжайда ашық тарату жоқ. Өткен шығарылымдар мұрағатта.
error-link-expired-title = Сілтеменің мерзімі өтті
error-link-expired-text = Растау сілтемелері шектеулі уақыт жұмыс істейді, әрқайсысы бір рет қана. Жаңасын алу үшін мекенжайыңызды енгізіңіз.
error-link-unknown-title = Бұл сілтеме бізге таныс емес
error-link-unknown-text = Мүмкін, ол толық көшірілмеген шығар. Мекенжайыңызды енгізіңіз, біз жаңасын жібереміз.
error-link-incomplete-title = Сілтеме толық емес
error-link-missing-text = Сілтемеде растау коды жоқ. Хаттағы сілтемені қайта ашыңыз немесе жаңасын сұраңыз.
error-link-cut-text = Сілтеме қысқартылған немесе өзгертілген сияқты. Оны хаттан қайта ашыңыз немесе жаңасын сұраңыз.
error-unsubscribe-link-title = Жазылымнан шығу сілтемесі толық емес
error-unsubscribe-link-text = Сілтеме қысқартылған немесе өзгертілген сияқты. Оны кез келген хатымыздан қайта ашыңыз — ол әр хатта бар.
error-test-mail-title = Бұл сынақ хаты еді
error-test-mail-text = Бұл сілтеме ешбір оқырманға тиесілі емес алдын ала қарау немесе сынақ хатында келді, сондықтан ештеңе өзгерген жоқ. Нағыз шығарылымда дәл осы сілтеме хат жіберілген оқырманды жазылымнан шығарады.
error-unknown-reader-title = Жазылым табылмады
error-unknown-reader-text = Бұл мекенжай енді тізімімізде жоқ, сондықтан шығатын жазылым да жоқ.
error-preferences-unknown-text = Бұл мекенжай енді тізімімізде жоқ.
error-preferences-link-text = Сілтеме қысқартылған немесе өзгертілген сияқты. Оны кез келген хатымыздан қайта ашыңыз.
error-form-title = Пішінді оқу мүмкін болмады
error-form-type-text = Пішін application/x-www-form-urlencoded форматында жіберілуі керек.
error-form-text = Пішін бұзылып келді. Оны қайта жіберіп көріңіз.
error-language-text = Біз бұл тілде жазбаймыз: ағылшын, орыс немесе қазақ тілін таңдаңыз.
error-not-subscribed-title = Сіз жазылмағансыз
error-not-subscribed-text = Бұл мекенжай қазір біздің бірде-бір таратылымымызды алмайды. Қайта алу үшін басты бетте жазылыңыз.
