# Хаттар: жазылымды растау және шығарылымның мақалалар айналасындағы мәтіні.

## Растау
confirmation-subject = «{ $newsletter }» жазылымын растаңыз
confirmation-preheader = Бір басыңыз — «{ $newsletter }» осы мекенжайға келе бастайды.
confirmation-hello = Сәлеметсіз бе!
confirmation-asked = Біреу, сіз деп үміттенеміз, «{ $newsletter }» таратылымын осы мекенжайға жіберуді сұрады.
confirmation-press = Растау үшін түймені басыңыз.
confirmation-you-chose = Сіз таңдағандар:
confirmation-button = Жазылымды растау
confirmation-open-link = Растау үшін сілтемені ашып, «Растау» түймесін басыңыз:
confirmation-paste = Немесе бұл сілтемені браузеріңізге қойыңыз:
confirmation-expiry = Сілтеме { $hours } { $hours ->
        [one] сағат
       *[other] сағат
    } жарамды.
confirmation-ignore = Егер сіз жазылмаған болсаңыз, бұл хатқа мән бермеңіз: бізден басқа хат келмейді.

## Шығарылым
digest-subject = { $more ->
        [0] { $lead } · { $name }
        [one] { $lead } және тағы { $more } жаңалық · { $name }
       *[other] { $lead } және тағы { $more } жаңалық · { $name }
    }
digest-by = Авторы: { $author }
digest-read-article = Мақаланы оқу
digest-more-stories = Басқа жаңалықтар
digest-more-news-at = Басқа жаңалықтар сайтта:
digest-more-news = Басқа жаңалықтар
digest-view-in-browser = Хатты браузерде ашу
digest-why = Сіз «{ $newsletter }» таратылымына жазылғандықтан, оны аласыз.
digest-why-at = Сіз { $site }/ сайтында жазылғандықтан, «{ $newsletter }» аласыз.
digest-unsubscribe = Жазылымнан шығу
digest-unsubscribe-after = — бір басумен.
digest-unsubscribe-text = Бір басумен жазылымнан шығу
digest-preheader-also = Сондай-ақ: { $titles }
manage-newsletters = Таратылымдарды басқару

## Жазылым баптауларына сілтеме
preferences-mail-subject = «{ $newsletter }» жазылымын басқару
preferences-mail-preheader = Осы мекенжайға қандай таратылымдар келетінін таңдауға арналған сілтемеңіз.
preferences-mail-asked = Біреу, сіз деп үміттенеміз, осы мекенжайға келетін «{ $newsletter }» таратылымдарын басқаруға сілтеме сұрады.
preferences-mail-press = Не алатыныңызды таңдау немесе жазылымнан шығу үшін түймені басыңыз.
preferences-mail-button = Таратылымдарды басқару
preferences-mail-open-link = Не алатыныңызды таңдау немесе жазылымнан шығу үшін оны ашыңыз:
preferences-mail-ignore = Егер сіз сұрамаған болсаңыз, бұл хатқа мән бермеңіз: ештеңе өзгермейді.
