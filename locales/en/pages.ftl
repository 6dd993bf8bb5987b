# Public pages. Terms in { $braces } are filled in by the service; text that readers
# or the news site wrote (names, newsletter names, addresses) arrives there unchanged.

## Every page
footer-promise = We only send what you sign up for, and every email has a link to leave.
languages-label = Language
field-email = Email address
field-name = Name
field-optional = (optional)
field-newsletters = Newsletters
message-to-signup = Go to the sign-up page

## Sign-up
signup-page-title = Subscribe
signup-heading = Get our stories sent directly to you
signup-lede = One email with the day’s new articles. Free, and you can leave with one click.
signup-button = Subscribe
signup-see-archive = See what you would get:
signup-past-editions = past editions
signup-error-form-type = The form must be sent as application/x-www-form-urlencoded.
signup-error-form = The form could not be read: { $detail }.
signup-error-rate = Too many sign-ups from your network in the last minute. Please wait a minute and try again.
signup-error-too-many = We have already sent several confirmation links to this address today. Please look for them in your inbox (and spam folder), or try again tomorrow.
signup-error-email = Please enter a valid email address, such as name@example.kz.
signup-error-name = Please shorten the name, or leave it empty.
signup-error-none-chosen = Please choose at least one newsletter.
signup-error-not-offered = One of the newsletters chosen is not offered here; please choose from the list.

## Check your inbox
check-inbox-title = Check your inbox
check-inbox-text = If <strong>{ $email }</strong> is not subscribed yet, we have sent it a link to confirm your subscription.
    Open the email and press <em>Confirm</em>; until then you will receive nothing else from us.
check-inbox-nothing = Nothing arrived after a few minutes? Look in your spam folder, or
check-inbox-again = sign up again to get a new link.

## Confirmation
confirm-title = Confirm your subscription
confirm-text = Press the button to start receiving { $newsletter } at <strong>{ $email }</strong>.
confirm-button = Confirm
confirmed-page-title = Subscribed
confirmed-heading = You’re subscribed
confirmed-text = Thank you. The next edition of { $newsletter } will be in your inbox. Every email has a link to unsubscribe.
link-problem-button = Send me a new link

## Unsubscribing
unsubscribe-page-title = Unsubscribe
unsubscribe-heading = Unsubscribe?
unsubscribe-text = Press the button and <strong>{ $email }</strong> will receive no more emails from { $newsletter }.
unsubscribe-button = Unsubscribe
unsubscribe-everything = Unsubscribe from everything
unsubscribed-page-title = Unsubscribed
unsubscribed-heading = You’re unsubscribed
unsubscribed-left-one = <strong>{ $email }</strong> will receive no more of { $newsletter }.
unsubscribed-still-receiving = You still receive:
unsubscribed-left-all = <strong>{ $email }</strong> will receive no more emails from { $newsletter }. Sorry to see you go.
unsubscribed-changed-mind = Changed your mind? You can
unsubscribed-subscribe-again = subscribe again at any time.

## Preferences
preferences-page-title = Your newsletters
preferences-heading = Manage your newsletters
preferences-intro = Choose what <strong>{ $email }</strong> receives.
preferences-intro-named = Choose what <strong>{ $email }</strong> ({ $reader }) receives.
preferences-saved = Saved.
preferences-language = Language of our emails
preferences-save = Save
preferences-email-link-title = Lost the link? We’ll email you one
preferences-email-link-button = Email me a link to manage my subscription
preferences-email-link-sent = If this address is on our list, a link to your preferences is on its way.
error-rate-text = Too many requests from your network in the last minute. Please wait a minute and try again.
preferences-email-link-intro = Enter your address and we will email you a link to choose which newsletters you receive, or to leave.

## Archive
archive-page-title = Archive
archive-heading = Past editions
archive-articles = { $count ->
        [one] { $count } article
       *[other] { $count } articles
    }
archive-next = Get the next one in your inbox:
archive-subscribe = subscribe
archive-empty = No edition has been sent yet.
archive-empty-subscribe = Subscribe to get the first one.

## Error pages: each a title and a sentence
error-not-found-title = Page not found
error-not-found-text = There is nothing at this address. Check the link, or go to the sign-up page.
error-no-edition-title = No such edition
error-no-edition-text = There is no edition at this address. See the archive for the past ones.
error-no-newsletter-title = No such newsletter
error-no-newsletter-text = There is no public newsletter at this address. See the archive for the past editions.
error-link-expired-title = This link has expired
error-link-expired-text = Confirmation links work for a limited time, and each works once. Enter your address to get a fresh one.
error-link-unknown-title = We don’t know this link
error-link-unknown-text = It may have been copied incompletely. Enter your address and we’ll send you a new one.
error-link-incomplete-title = This link is incomplete
error-link-missing-text = The confirmation token is missing. Open the link from the email again, or ask for a new one.
error-link-cut-text = The link seems to have been cut off or changed. Open it from the email again, or ask for a new one.
error-unsubscribe-link-title = This unsubscribe link is incomplete
error-unsubscribe-link-text = The link seems to have been cut off or changed. Open it from one of our emails again; every email has one.
error-test-mail-title = This was a test mail
error-test-mail-text = This link came in a preview or a test mail, which belong to no reader, so nothing was changed. In a digest, the same link unsubscribes the reader it was sent to.
error-unknown-reader-title = No subscription here
error-unknown-reader-text = This address is no longer on our list, so there is nothing to unsubscribe from.
error-preferences-unknown-text = This address is no longer on our list.
error-preferences-link-text = The link seems to have been cut off or changed. Open it from one of our emails again.
error-form-title = This form could not be read
error-form-type-text = The form must be sent as application/x-www-form-urlencoded.
error-form-text = The form could not be read: { $detail }.
error-language-text = That language is not one we write in: choose English, Russian or Kazakh.
error-not-subscribed-title = You are not subscribed
error-not-subscribed-text = This address receives none of our newsletters now. To receive them again, sign up on our home page.
