# Mail: the confirmation and the digest's own words around the stories.

## Confirmation
confirmation-subject = Confirm your subscription to { $newsletter }
confirmation-preheader = One click to confirm, and { $newsletter } starts coming to this address.
confirmation-hello = Hello,
confirmation-asked = Someone, hopefully you, asked to receive { $newsletter } at this address.
confirmation-press = Press the button to confirm.
confirmation-you-chose = You chose:
confirmation-button = Confirm my subscription
confirmation-open-link = To confirm, open this link and press "Confirm":
confirmation-paste = Or paste this link into your browser:
confirmation-expiry = The link works for { $hours } { $hours ->
        [one] hour
       *[other] hours
    }.
confirmation-ignore = If you did not sign up, ignore this email: you will not hear from us again.

## Digest
digest-subject = { $more ->
        [0] { $lead } · { $name }
        [one] { $lead } and { $more } more story · { $name }
       *[other] { $lead } and { $more } more stories · { $name }
    }
digest-by = By { $author }
digest-read-article = Read the article
digest-more-stories = More stories
digest-more-news-at = More news at
digest-more-news = More news
digest-view-in-browser = View this email in your browser
digest-why = You receive { $newsletter } because you subscribed.
digest-why-at = You receive { $newsletter } because you subscribed at { $site }/.
digest-unsubscribe = Unsubscribe
digest-unsubscribe-after = with one click.
digest-unsubscribe-text = Unsubscribe with one click
digest-preheader-also = Also: { $titles }
manage-newsletters = Manage your newsletters

## Link to the preferences page
preferences-mail-subject = Manage your subscription to { $newsletter }
preferences-mail-preheader = Your link to choose which newsletters this address receives.
preferences-mail-asked = Someone, hopefully you, asked for a link to manage the newsletters this address receives from { $newsletter }.
preferences-mail-press = Press the button to choose what you get, or to leave.
preferences-mail-button = Manage my newsletters
preferences-mail-open-link = Open it to choose what you get, or to leave:
preferences-mail-ignore = If you did not ask for it, ignore this email: nothing changes.
