# Письма: подтверждение подписки и обрамление выпуска вокруг статей.

## Подтверждение
confirmation-subject = Подтвердите подписку на «{ $newsletter }»
confirmation-preheader = Один клик — и «{ $newsletter }» начнёт приходить на этот адрес.
confirmation-hello = Здравствуйте!
confirmation-asked = Кто-то, надеемся, что вы, попросил присылать «{ $newsletter }» на этот адрес.
confirmation-press = Нажмите кнопку, чтобы подтвердить подписку.
confirmation-you-chose = Вы выбрали:
confirmation-button = Подтвердить подписку
confirmation-open-link = Чтобы подтвердить подписку, откройте ссылку и нажмите «Подтвердить»:
confirmation-paste = Или вставьте эту ссылку в адресную строку браузера:
confirmation-expiry = Ссылка действует { $hours } { $hours ->
        [one] час
        [few] часа
       *[many] часов
    }.
confirmation-ignore = Если вы не подписывались, просто проигнорируйте это письмо: больше мы вам не напишем.

## Выпуск
digest-subject = { $more ->
        [0] { $lead } · { $name }
        [one] { $lead } и ещё { $more } новость · { $name }
        [few] { $lead } и ещё { $more } новости · { $name }
        [many] { $lead } и ещё { $more } новостей · { $name }
       *[other] { $lead } и ещё { $more } новости · { $name }
    }
digest-by = Автор: { $author }
digest-read-article = Читать статью
digest-more-stories = Другие новости
digest-more-news-at = Больше новостей на сайте
digest-more-news = Больше новостей
digest-view-in-browser = Открыть письмо в браузере
digest-why = Вы получаете «{ $newsletter }», потому что подписались.
digest-why-at = Вы получаете «{ $newsletter }», потому что подписались на { $site }/.
digest-unsubscribe = Отписаться
digest-unsubscribe-after = можно в один клик.
digest-unsubscribe-text = Отписаться в один клик
digest-preheader-also = Также: { $titles }
manage-newsletters = Управление рассылками

## Ссылка на настройки подписки
preferences-mail-subject = Управление подпиской на «{ $newsletter }»
preferences-mail-preheader = Ваша ссылка, чтобы выбрать, какие рассылки приходят на этот адрес.
preferences-mail-asked = Кто-то, надеемся, что вы, попросил ссылку для управления рассылками «{ $newsletter }», которые приходят на этот адрес.
preferences-mail-press = Нажмите кнопку, чтобы выбрать, что получать, или отписаться.
preferences-mail-button = Управлять рассылками
preferences-mail-open-link = Откройте её, чтобы выбрать, что получать, или отписаться:
preferences-mail-ignore = Если вы её не запрашивали, просто проигнорируйте это письмо: ничего не изменится.
