# Публичные страницы. Значения в { $скобках } подставляет сервис; то, что написали
# читатели или редакция (имена, названия рассылок, адреса), приходит туда без изменений.

## На каждой странице
footer-promise = Мы присылаем только то, на что вы подписались, и в каждом письме есть ссылка, чтобы отписаться.
languages-label = Язык
field-email = Электронная почта
field-name = Имя
field-optional = (необязательно)
field-newsletters = Рассылки
message-to-signup = Перейти на страницу подписки

## Подписка
signup-page-title = Подписка
signup-heading = Получайте наши новости прямо на почту
signup-lede = Одно письмо с новыми статьями за день. Бесплатно, а отписаться можно в один клик.
signup-button = Подписаться
signup-see-archive = Посмотрите, что вы будете получать:
signup-past-editions = прошлые выпуски
signup-error-form-type = Форму нужно отправлять в формате application/x-www-form-urlencoded.
signup-error-form = Не удалось прочитать форму. Попробуйте отправить её ещё раз.
signup-error-rate = Слишком много подписок из вашей сети за последнюю минуту. Подождите минуту и попробуйте снова.
signup-error-too-many = Сегодня мы уже отправили на этот адрес несколько ссылок для подтверждения. Поищите их во входящих (и в папке «Спам») или попробуйте завтра.
signup-error-email = Введите правильный адрес электронной почты, например name@example.kz.
signup-error-name = Сократите имя или оставьте поле пустым.
signup-error-none-chosen = Выберите хотя бы одну рассылку.
signup-error-not-offered = Одна из выбранных рассылок здесь недоступна; выберите из списка.

## Проверьте почту
check-inbox-title = Проверьте почту
check-inbox-text = Если адрес <strong>{ $email }</strong> ещё не подписан, мы отправили на него ссылку для подтверждения подписки.
    Откройте письмо и нажмите <em>«Подтвердить»</em>; до тех пор мы больше ничего вам не пришлём.
check-inbox-nothing = Письмо не пришло за несколько минут? Загляните в папку «Спам» или
check-inbox-again = подпишитесь ещё раз, чтобы получить новую ссылку.

## Подтверждение
confirm-title = Подтвердите подписку
confirm-text = Нажмите кнопку, чтобы получать рассылку «{ $newsletter }» на адрес <strong>{ $email }</strong>.
confirm-button = Подтвердить
confirmed-page-title = Подписка оформлена
confirmed-heading = Вы подписаны
confirmed-text = Спасибо! Следующий выпуск «{ $newsletter }» придёт вам на почту. В каждом письме есть ссылка, чтобы отписаться.
link-problem-button = Прислать новую ссылку

## Отписка
unsubscribe-page-title = Отписка
unsubscribe-heading = Отписаться?
unsubscribe-text = Нажмите кнопку, и на адрес <strong>{ $email }</strong> больше не будут приходить письма «{ $newsletter }».
unsubscribe-button = Отписаться
unsubscribe-everything = Отписаться от всех рассылок
unsubscribed-page-title = Вы отписались
unsubscribed-heading = Вы отписались
unsubscribed-left-one = На адрес <strong>{ $email }</strong> больше не будет приходить «{ $newsletter }».
unsubscribed-still-receiving = Вы по-прежнему получаете:
unsubscribed-left-all = На адрес <strong>{ $email }</strong> больше не будут приходить письма «{ $newsletter }». Жаль, что вы уходите.
unsubscribed-changed-mind = Передумали? Вы можете
unsubscribed-subscribe-again = подписаться снова в любой момент.

## Настройки
preferences-page-title = Ваши рассылки
preferences-heading = Управление рассылками
preferences-intro = Выберите, что будет получать <strong>{ $email }</strong>.
preferences-intro-named = Выберите, что будет получать <strong>{ $email }</strong> ({ $reader }).
preferences-saved = Сохранено.
preferences-language = Язык писем
preferences-save = Сохранить
preferences-email-link-title = Потеряли ссылку? Мы пришлём её на почту
preferences-email-link-button = Прислать ссылку для управления подпиской
preferences-email-link-sent = Если этот адрес есть в нашем списке, ссылка на ваши настройки уже в пути.
error-rate-text = Слишком много запросов из вашей сети за последнюю минуту. Подождите минуту и попробуйте снова.
preferences-email-link-intro = Введите свой адрес, и мы пришлём ссылку, по которой можно выбрать рассылки или отписаться.

## Архив
archive-page-title = Архив
archive-heading = Прошлые выпуски
archive-articles = { $count ->
        [one] { $count } статья
        [few] { $count } статьи
        [many] { $count } статей
       *[other] { $count } статьи
    }
archive-next = Получите следующий выпуск на почту:
archive-subscribe = подпишитесь
archive-empty = Ни один выпуск ещё не отправлен.
archive-empty-subscribe = Подпишитесь, чтобы получить первый.

## Страницы ошибок: заголовок и пояснение
error-not-found-title = Страница не найдена
error-not-found-text = По этому адресу ничего нет. Проверьте ссылку или перейдите на страницу подписки.
error-no-edition-title = Такого выпуска нет
error-no-edition-text = По этому адресу нет выпуска. Прошлые выпуски собраны в архиве.
error-no-newsletter-title = Такой рассылки нет
error-no-newsletter-text = По этому адресу нет открытой рассылки. Прошлые выпуски собраны в архиве.
error-link-expired-title = Срок действия ссылки истёк
error-link-expired-text = Ссылки для подтверждения действуют ограниченное время, и каждая срабатывает один раз. Введите адрес, чтобы получить новую.
error-link-unknown-title = Мы не знаем эту ссылку
error-link-unknown-text = Возможно, её скопировали не полностью. Введите адрес, и мы пришлём новую.
error-link-incomplete-title = Ссылка неполная
error-link-missing-text = В ссылке нет кода подтверждения. Откройте ссылку из письма ещё раз или запросите новую.
error-link-cut-text = Похоже, ссылка обрезана или изменена. Откройте её из письма ещё раз или запросите новую.
error-unsubscribe-link-title = Ссылка для отписки неполная
error-unsubscribe-link-text = Похоже, ссылка обрезана или изменена. Откройте её снова из любого нашего письма — она есть в каждом.
error-test-mail-title = Это было тестовое письмо
error-test-mail-text = Эта ссылка пришла в предпросмотре или тестовом письме, которые не принадлежат ни одному читателю, поэтому ничего не изменилось. В настоящем выпуске та же ссылка отписывает читателя, которому он отправлен.
error-unknown-reader-title = Подписка не найдена
error-unknown-reader-text = Этого адреса больше нет в нашем списке, так что отписываться не от чего.
error-preferences-unknown-text = Этого адреса больше нет в нашем списке.
error-preferences-link-text = Похоже, ссылка обрезана или изменена. Откройте её снова из любого нашего письма.
error-form-title = Не удалось прочитать форму
error-form-type-text = Форму нужно отправлять в формате application/x-www-form-urlencoded.
error-form-text = Форма пришла в искажённом виде. Попробуйте отправить её ещё раз.
error-language-text = Мы не пишем на этом языке: выберите английский, русский или казахский.
error-not-subscribed-title = Вы не подписаны
error-not-subscribed-text = Сейчас этот адрес не получает ни одной нашей рассылки. Чтобы снова получать их, подпишитесь на главной странице.
